"""One rule for "in sync": the agreement is bound to the card's current credential version."""

import pytest

from accounts.models import Card
from debits.models import Mandate
from tests.factories import MandateFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("synced", "card_version", "in_sync"),
    [(2, 2, True), (1, 2, False), (0, 2, False), (3, 2, False)],
    ids=["bound-to-the-cards-version", "behind", "sync-forgotten", "ahead-is-not-in-sync"],
)
def test_a_mandate_is_in_sync_only_when_bound_to_its_cards_version(synced, card_version, in_sync):
    mandate = MandateFactory()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=card_version)
    Mandate.objects.filter(pk=mandate.pk).update(synced_credential_version=synced)

    mandate = Mandate.objects.select_related("card").get(pk=mandate.pk)
    assert mandate.is_in_sync is in_sync
    assert Mandate.objects.in_sync().filter(pk=mandate.pk).exists() is in_sync
    assert Mandate.objects.out_of_sync().filter(pk=mandate.pk).exists() is not in_sync
    synced_with_card = Mandate.objects.with_sync_state().get(pk=mandate.pk).synced_with_card
    assert synced_with_card is in_sync

"""One click in the debit engine's admin changes a bounded number of rows, the same
bound for every action."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from debits.admin_actions import ADMIN_ACTION_LIMIT
from debits.models import CollectionPause, MandateSync
from tests.conftest import sign_in_verified
from tests.factories import MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["pause_mandates_action", "resync_mandates_action"])
def test_an_admin_action_on_more_mandates_than_the_limit_changes_none(action):
    mandates = MandateFactory.create_batch(ADMIN_ACTION_LIMIT + 1)
    client = sign_in_verified(Client(), StaffUserFactory(role=Role.OPERATIONS.value))

    response = client.post(
        reverse("admin:debits_mandate_changelist"),
        {
            "action": action,
            "_selected_action": [m.pk for m in mandates],
            "apply": "1",
            "reason": "Customer in dispute",
        },
        follow=True,
    )

    assert f"Select at most {ADMIN_ACTION_LIMIT} rows at once." in response.content.decode()
    assert not CollectionPause.objects.exists()
    assert not MandateSync.objects.exists()

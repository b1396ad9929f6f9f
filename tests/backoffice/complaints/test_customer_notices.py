"""Customer notices: written with their cause, one per change, never lost, on the timeline."""

import pytest
from kombu.exceptions import OperationalError

from accounts import notifications
from accounts.models import CardCredential, Channel, CustomerNotice, Language
from accounts.services import change_card_password, sweep_customer_notices
from backoffice.complaints.timeline import card_timeline
from tests.debit_helpers import eager_celery
from tests.factories import CardCredentialFactory, CardFactory, MandateFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

__all__ = ["eager_celery"]


@pytest.fixture(autouse=True)
def sent(settings):
    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"
    notifications.outbox.clear()
    yield notifications.outbox
    notifications.outbox.clear()


def card_with_mandates(count: int, **card_fields):
    card = CardFactory(**card_fields)
    CardCredentialFactory(card=card)
    for _ in range(count):
        MandateFactory(loan__card=card)
    return card


def change(card, channel=Channel.ATM, password="946381"):
    return change_card_password(
        card=card,
        new_password=password,
        kind=CardCredential.Kind.TRANSACTION,
        actor=None,
        channel=channel,
    )


def test_a_password_change_through_any_channel_names_the_channel_and_the_time(
    sent, django_capture_on_commit_callbacks
):
    card = card_with_mandates(0)
    with django_capture_on_commit_callbacks(execute=True):
        change(card, channel=Channel.ATM)

    notice = CustomerNotice.objects.get(topic=CustomerNotice.Topic.PASSWORD_CHANGED)
    assert notice.sent_at is not None
    assert [m.topic for m in sent] == ["password_changed"]
    assert "through atm" in sent[0].body and "If this was not you, call us" in sent[0].body
    assert sent[0].recipient == card.customer.phone


def test_the_notice_is_in_the_customers_language(sent, django_capture_on_commit_callbacks):
    card = card_with_mandates(0, customer__language=Language.CHINESE)
    with django_capture_on_commit_callbacks(execute=True):
        change(card, channel=Channel.MOBILE_APP)
    assert "通过手机银行修改" in sent[0].body and "如非本人操作" in sent[0].body


def test_one_change_sends_one_notice_of_each_kind_whatever_the_number_of_mandates(
    sent, django_capture_on_commit_callbacks
):
    card = card_with_mandates(3)
    with django_capture_on_commit_callbacks(execute=True):
        change(card)

    topics = sorted(m.topic for m in sent)
    assert topics == ["mandates_rebound", "password_changed"]
    rebound = CustomerNotice.objects.get(topic=CustomerNotice.Topic.MANDATES_REBOUND)
    assert "continue as before" in rebound.body


def test_a_notice_is_not_lost_when_the_broker_is_down_the_sweeper_sends_it(
    sent, django_capture_on_commit_callbacks, monkeypatch
):
    from accounts.tasks import send_customer_notice_task

    card = card_with_mandates(0)

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(send_customer_notice_task, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            change(card)
    notice = CustomerNotice.objects.get()
    assert notice.sent_at is None and sent == []

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_customer_notices(older_than_seconds=0) == [notice.pk]

    notice.refresh_from_db()
    assert notice.sent_at is not None and len(sent) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_customer_notices(older_than_seconds=0) == []
    assert len(sent) == 1, "sent once"


def test_a_rolled_back_change_leaves_no_notice(django_capture_on_commit_callbacks):
    from django.db import transaction

    card = card_with_mandates(0)
    with pytest.raises(RuntimeError), transaction.atomic():
        change(card)
        raise RuntimeError("rolled back")
    assert not CustomerNotice.objects.exists()


def test_each_notice_appears_on_the_cards_timeline(django_capture_on_commit_callbacks):
    card = card_with_mandates(1)
    with django_capture_on_commit_callbacks(execute=True):
        change(card)

    notices = [e for e in card_timeline(card).entries if e.kind == "notice"]
    assert len(notices) == 2
    assert all("sent" in e.text for e in notices)

"""No secret or full identifier reaches the logs, through whole flows.

The logs are captured from the project's own console handler (JSON formatter
and redacting filter as configured), at DEBUG, over: a staff sign-in with
password and code, a customer search by full card number and national id, a
staff-initiated reset with the customer's link and new password (and its
re-sync), a wrong card password, and a debit run with its collection.
"""

import contextlib
import io
import json
import logging
import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts import notifications
from accounts.models import CardCredential, PasswordResetRequest
from backoffice.log import RedactingFilter, redact
from tests.backoffice.signin.test_security import current_code
from tests.debit_helpers import bind_at_network, eager_celery  # noqa: F401
from tests.factories import (
    STAFF_PASSWORD,
    CardCredentialFactory,
    CardFactory,
    CustomerFactory,
    InstalmentFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

CARD_NUMBER = "6222021234567890123"
NATIONAL_ID = "11010519880512743X"
PHONE = "13987654321"
NEW_PASSWORD = "946381"
LINK = re.compile(r"/reset/(?P<token>[A-Za-z0-9_\-]+)/")


@pytest.fixture
def captured_logs(settings):
    """The lines the configured console handler writes, as parsed JSON objects."""
    root = logging.getLogger()
    console = next(
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, RedactingFilter) for f in h.filters)
    )
    buffer = io.StringIO()
    previous_stream = console.setStream(buffer)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    quiet = logging.getLogger("django.db.backends")
    quiet_level = quiet.level
    quiet.setLevel(logging.INFO)  # SQL parameters would hold hashes, not the values
    try:
        yield buffer
    finally:
        console.setStream(previous_stream)
        root.setLevel(previous_level)
        quiet.setLevel(quiet_level)


def _lines(buffer: io.StringIO) -> list[dict]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # one JSON object per line
    for entry in parsed:
        entry.pop("ts", None)  # microseconds could spell any six digits
    return parsed


def _assert_absent(entries: list[dict], secrets: dict[str, str]):
    text = "\n".join(json.dumps(e, ensure_ascii=False) for e in entries)
    for label, secret in secrets.items():
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text), (
            f"{label} found in the logs"
        )


def test_the_filter_scrubs_messages_arguments_and_extra_fields(captured_logs):
    log = logging.getLogger("tests.redaction")
    log.warning(
        "card %s id %s phone %s",
        CARD_NUMBER,
        NATIONAL_ID,
        PHONE,
        extra={
            "customer_phone": PHONE,
            "detail": {"password": NEW_PASSWORD},
            "url": "/reset/abcDEF123456789/",
        },
    )
    log.info("login password=%s token=%s", "hunter2hunter2", "tok_abcdefghijkl")
    try:
        grouped = " ".join(CARD_NUMBER[i : i + 4] for i in range(0, len(CARD_NUMBER), 4))
        raise ValueError(f"declined card {grouped}")
    except ValueError:
        log.exception("gateway failed")
    entries = _lines(captured_logs)
    assert len(entries) == 3
    _assert_absent(
        entries,
        {
            "card number": CARD_NUMBER,
            "national id": NATIONAL_ID,
            "phone": PHONE,
            "password": NEW_PASSWORD,
            "staff password": "hunter2hunter2",
            "token": "tok_abcdefghijkl",
            "reset token": "abcDEF123456789",
            "grouped card number": "6222 0212 3456",
        },
    )
    assert "[card-number]" in entries[0]["message"]
    assert entries[2]["exc"].endswith("declined card [card-number]")


@pytest.mark.parametrize(
    "text",
    [
        "mandate MD000000000001 run 42 amount 10280.00",
        "instalment 17 due 2026-11-26",
        "idempotency key debit:123:1",
    ],
)
def test_the_filter_leaves_ordinary_references_alone(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "collect_debit_chunk took 0.126958123456789s",
        "chunk timings [0.00012695812345678, 12.3456789012345678]",
        "rate 0.13912345678 per second",
        "ratio 0.110105199001159999",
        "total 1234567890123.45 across 16 runs",
        "elapsed=1.6222021234567890",
    ],
)
def test_a_decimal_number_is_not_taken_for_an_identifier(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("card 6222021234567890", "card [card-number]"),
        ("card 6222 0212 3456 7890 declined", "card [card-number] declined"),
        ("card 6222-0212-3456-7890.", "card [card-number]."),
        ("card no.6222021234567890", "card no.[card-number]"),
        ("paid 1.00 by 6222021234567890", "paid 1.00 by [card-number]"),
        ("6222021234567890. Declined", "[card-number]. Declined"),
        ("id 11010519900115999X", "id [national-id]"),
        ("id 110105199001159999.", "id [national-id]."),
        ("call 13912345678", "call [phone]"),
        ("call +86 139 1234 5678.", "call [phone]."),
        ("call 139-1234-5678, then", "call [phone], then"),
    ],
)
def test_a_full_identifier_next_to_a_full_stop_is_still_redacted(text, redacted):
    assert redact(text) == redacted


@pytest.mark.usefixtures("eager_celery")
def test_a_reset_and_a_debit_run_leave_no_secret_in_the_logs(
    captured_logs, settings, django_capture_on_commit_callbacks
):
    from accounts.models import AuthenticatorDevice
    from accounts.services import verify_card_password
    from accounts.services.card_credentials import CardPasswordError
    from debits.services import collect_debit_chunk, run_debit_job

    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"
    notifications.outbox.clear()
    customer = CustomerFactory(national_id=NATIONAL_ID, phone=PHONE)
    card = CardFactory(customer=customer, number=CARD_NUMBER)
    credential = CardCredentialFactory(card=card)
    instalment = InstalmentFactory(loan__card=card, due_date=timezone.localdate())
    mandate = bind_at_network(MandateFactory(loan=instalment.loan))
    agent = StaffUserFactory(role="agent", username="agent.log")
    device = AuthenticatorDevice.objects.create(
        user=agent, name="Authenticator app", confirmed=True
    )

    captured_logs.seek(0)
    captured_logs.truncate()  # from here on: only what the flow itself logs

    # A staff member signs in with password and code, and finds the customer.
    staff = Client()
    staff.post("/login/", {"username": agent.username, "password": STAFF_PASSWORD})
    assert staff.post("/login/verify/", {"otp_token": current_code(device)}).status_code == 302
    for identifier in (CARD_NUMBER, NATIONAL_ID, PHONE):
        found = staff.post("/customers/", {"q": identifier}, follow=True)
        assert found.status_code == 200
        assert customer.full_name in found.content.decode()
    assert staff.get(f"/customers/{customer.pk}/").status_code == 200

    # A reset link goes out; the customer opens it and sets a new password.
    with django_capture_on_commit_callbacks(execute=True):
        started = staff.post(
            f"/cards/{card.pk}/password-reset/",
            {
                "kind": CardCredential.Kind.TRANSACTION,
                "verification_method": PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
                "verification_reference": "BR-0042 ID seen",
                "delivery_channel": PasswordResetRequest.DeliveryChannel.SMS,
            },
        )
    assert started.status_code == 302
    token = LINK.search(notifications.outbox[-1].body)["token"]
    customer_browser = Client()
    with django_capture_on_commit_callbacks(execute=True):
        customer_browser.get(f"/reset/{token}/")
        customer_browser.get(f"/reset/{token}-tampered/")
        customer_browser.get(f"/reset/{token}/")
        done = customer_browser.post(
            "/reset/", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
        )
    assert done.status_code == 200
    credential.refresh_from_db()
    mandate.refresh_from_db()

    # Someone guesses the card password.
    for guess in ("000000", "123789"):
        with contextlib.suppress(CardPasswordError):
            verify_card_password(card=card, password=guess)

    # The debit run collects the instalment.
    run = run_debit_job(on_date=timezone.localdate(), actor=None)
    collect_debit_chunk(run_id=run.pk, instalment_ids=[instalment.pk])
    staff.get("/debits/runs/")
    staff.get("/customers/999999/")  # a 404 is logged with its path

    entries = _lines(captured_logs)
    assert entries, "the flow logged nothing: the capture is not working"
    _assert_absent(
        entries,
        {
            "card number": CARD_NUMBER,
            "national id": NATIONAL_ID,
            "phone": PHONE,
            "new card password": NEW_PASSWORD,
            "reset token": token,
            "staff password": STAFF_PASSWORD,
            "TOTP secret": device.bin_key.hex(),
        },
    )

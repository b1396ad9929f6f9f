"""Hostile input to every staff page and the customers' own reset pages: the answer
is a page, a form error, a redirect with a message or a 4xx, never a 500, and a
refused input writes nothing.

Each target is tried with the hand-picked values (``inputs.HAND_PICKED``) and
with hypothesis-generated ones; the counts are printed at the end of the run.
"""

import datetime as dt
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Card, PasswordResetRequest
from accounts.services import PasswordPolicyError, start_password_reset
from accounts.services.card_credentials import check_password_policy
from backoffice.customers.views import RESET_SESSION_KEY
from debits.services.runs import MAX_DAYS_AHEAD
from tests.backoffice.hostile.conftest import Unchanged, assert_clear_answer, generated
from tests.backoffice.hostile.inputs import (
    HAND_PICKED,
    hostile_path_id,
    hostile_text,
    invalid_reason,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _is_run_date(value: str) -> bool:
    """Would the manual run form accept ``value`` (and start a run)?"""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return False
    return day <= dt.date.today() + dt.timedelta(days=MAX_DAYS_AHEAD)


def _an_existing_card(value: str) -> bool:
    try:
        number = int(value)
    except (ValueError, OverflowError):
        return False
    return abs(number) < 2**63 and Card.objects.filter(pk=number).exists()


# --- Targets: (client, book, value) -> tried once each ---------------------------


def attempt_list(client, book, value):
    with Unchanged("attempt list filters"):
        query = {"run": value, "state": value, "failure_code": value, "loan": value}
        response = client.get("/debits/attempts/", {**query, "mandate": value, "page": value})
        assert_clear_answer(response, "attempt list", 200, 400)


def attempt_export(client, book, value):
    with Unchanged("attempt export filters"):
        response = client.get(
            "/debits/attempts/export.csv", {"run": value, "loan": value, "failure_code": value}
        )
        assert_clear_answer(response, "attempt export", 200, 400)


def audit_trail(client, book, value):
    # The day filters' validation is the security hardening's; these are the rest.
    with Unchanged("audit trail filters"):
        query = {"actor": value, "action": value, "object_type": value, "object_id": value}
        response = client.get("/audit/", {**query, "request_id": value, "page": value})
        assert_clear_answer(response, "audit trail", 200, 400)


def retry_attempts(client, book, value):
    with Unchanged("retry attempts"):
        response = client.post("/debits/attempts/retry/", {"attempt": [value, value + "1"]})
        assert_clear_answer(response, "retry attempts", 302, 400)


def start_run(client, book, value):
    with Unchanged("manual run form", expect_unchanged=not _is_run_date(value)):
        response = client.post("/debits/runs/new/", {"run_date": value, "dry_run": "on"})
        assert_clear_answer(response, "manual run", 200, 302)


def pause_card(client, book, value):
    with Unchanged("pause form: card", expect_unchanged=not _an_existing_card(value)):
        response = client.post(
            "/debits/pauses/new/", {"scope": "card", "card_id": value, "reason": "hostile"}
        )
        assert_clear_answer(response, "pause card", 200, 302)


def pause_mandate(client, book, value):
    with Unchanged("pause form: mandate or scope"):
        response = client.post(
            "/debits/pauses/new/",
            {"scope": "mandate", "mandate_reference": value + "?", "reason": value},
        )
        assert_clear_answer(response, "pause mandate", 200, 302)
        response = client.post("/debits/pauses/new/", {"scope": value + "?", "reason": "x"})
        assert_clear_answer(response, "pause scope", 200, 302)


def resume_pause(client, book, reason):
    with Unchanged("resume pause: reason"):
        response = client.post(f"/debits/pauses/{book.pause.pk}/resume/", {"reason": reason})
        assert_clear_answer(response, "resume", 302)


def waive_fee(client, book, reason):
    with Unchanged("waive fee: reason"):
        response = client.post(f"/debits/fees/{book.fee.pk}/waive/", {"reason": reason})
        assert_clear_answer(response, "waive", 302)


def approve_fee(client, book, value):
    # An accrued fee has no waiver to approve, whatever else is posted.
    with Unchanged("approve fee"):
        response = client.post(f"/debits/fees/{book.fee.pk}/approve/", {"reason": value})
        assert_clear_answer(response, "approve", 302)


def customer_search(client, book, value):
    with Unchanged("customer search"):
        response = client.get("/customers/", {"q": value, "page": value})
        assert_clear_answer(response, "customer search get", 200, 302)
        response = client.post("/customers/", {"q": value})
        assert_clear_answer(response, "customer search post", 302)


def admin_search(client, book, value):
    with Unchanged("admin search box"):
        response = client.post(
            "/admin-search/", {"changelist": value, "q": value, "status__exact": value}
        )
        assert_clear_answer(response, "admin search", 302)
        response = client.post(
            "/admin-search/", {"changelist": "/admin/accounts/card/", "q": value}
        )
        assert_clear_answer(response, "admin search", 302)


def card_password_reset(client, book, value):
    data = {
        "kind": value,
        "verification_method": "branch_id_check",
        "verification_reference": value,
        "delivery_channel": "sms",
        "next": value,
    }
    with Unchanged("start card password reset"):
        response = client.post(f"/cards/{book.card.pk}/password-reset/", data)
        assert_clear_answer(response, "start reset", 302)
    assert not PasswordResetRequest.objects.exists()


def reveal_phone(client, book, value):
    with Unchanged("reveal phone: reason"):
        response = client.post(f"/customers/{book.card.customer_id}/reveal-phone/", {"r": value})
        assert_clear_answer(response, "reveal phone", 200)
        response = client.post(
            f"/customers/{book.card.customer_id}/reveal-phone/", {"reason": value[:9]}
        )
        assert_clear_answer(response, "reveal phone", 200)


def verify_next(client, book, value):
    with Unchanged("second factor step: next"):
        response = client.get("/login/verify/", {"next": value})
        assert_clear_answer(response, "verify next", 302)
        assert response["Location"].startswith("/") and not response["Location"].startswith("//")


def staff_pages(client, book, value):
    with Unchanged("staff unlock and factor reset"):
        response = client.post("/staff/locked/", {"username": value, "reason": value[:3]})
        assert_clear_answer(response, "unlock", 200, 302)
        response = client.post(f"/staff/{book.staff.pk}/reset-second-factor/", {"reason": ""})
        assert_clear_answer(response, "reset factor", 200, 302)


def sign_in(client, book, value):
    with Unchanged("sign-in form"):
        response = Client().post("/login/", {"username": value, "password": value, "next": value})
        assert_clear_answer(response, "sign-in", 200, 403, 429)


def reset_link(client, book, value):
    # The customer's link: any token that is not an open link's ends on a plain page.
    cache.clear()  # the per-address limit would answer 429 before the page is reached
    customer = Client()
    with Unchanged("customer reset link"):
        response = customer.get(f"/reset/{quote(value, safe='') or '%20'}/")
        assert_clear_answer(response, "reset link", 302, 404)
        response = customer.get("/reset/")
        assert_clear_answer(response, "reset page", 200)


def reset_form(client, book, value):
    """A real open link, then a new password the form or the policy may refuse."""
    cache.clear()
    reset = _open_reset_link(book)
    customer = Client()
    session = customer.session
    session[RESET_SESSION_KEY] = reset.token_fingerprint
    session.save()
    with Unchanged("customer reset form: password"):
        response = customer.post("/reset/", {"password": value, "confirmation": value + "0"})
        assert_clear_answer(response, "reset form", 200)
    password = value[:6]
    with Unchanged("customer reset form: password", expect_unchanged=not _accepted(password)):
        response = customer.post("/reset/", {"password": password, "confirmation": password})
        assert_clear_answer(response, "reset form", 200)


def _accepted(password: str) -> bool:
    try:
        check_password_policy(password)
    except PasswordPolicyError:
        return False
    return True


def _open_reset_link(book) -> PasswordResetRequest:
    reset = PasswordResetRequest.objects.filter(
        card=book.card, used_at__isnull=True, cancelled_at__isnull=True
    ).first()
    return reset or start_password_reset(
        card=book.card,
        kind="transaction",
        verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="BR-1",
        delivery_channel=PasswordResetRequest.DeliveryChannel.SMS,
        actor=book.staff,
    )


TEXT_TARGETS = [
    attempt_list,
    attempt_export,
    audit_trail,
    retry_attempts,
    start_run,
    pause_card,
    pause_mandate,
    approve_fee,
    customer_search,
    admin_search,
    card_password_reset,
    reveal_phone,
    verify_next,
    staff_pages,
    sign_in,
    reset_link,
]
REASON_TARGETS = [resume_pause, waive_fee]
PASSWORD_TARGETS = [reset_form]

_VALID_PASSWORD_LIKE = st.text(alphabet="0123456789", min_size=6, max_size=6)


# Each failed sign-in costs an argon2 hash (Django hashes even for an unknown name).
SLOW_TARGETS = {sign_in: HAND_PICKED[::3]}


@pytest.mark.parametrize("target", TEXT_TARGETS + REASON_TARGETS, ids=lambda t: t.__name__)
def test_hand_picked_hostile_input_is_answered_clearly(target, staff_client, book):
    for value in SLOW_TARGETS.get(target, HAND_PICKED):
        a_real_reason = value.strip() and "\x00" not in value and len(value) <= 300
        if target in REASON_TARGETS and a_real_reason:
            continue  # the change would rightly happen
        target(staff_client, book, value)


@pytest.mark.parametrize("target", TEXT_TARGETS, ids=lambda t: t.__name__)
def test_generated_hostile_input_is_answered_clearly(target, staff_client, book):
    @generated()
    @given(value=hostile_text)
    def attempt(value):
        target(staff_client, book, value)

    attempt()


@pytest.mark.parametrize("target", REASON_TARGETS, ids=lambda t: t.__name__)
def test_generated_invalid_reasons_change_nothing(target, staff_client, book):
    @generated()
    @given(reason=invalid_reason)
    def attempt(reason):
        target(staff_client, book, reason)

    attempt()


def test_generated_passwords_the_policy_refuses_change_nothing(staff_client, book):
    @generated(2)
    @given(value=st.one_of(hostile_text, _VALID_PASSWORD_LIKE))
    def attempt(value):
        reset_form(staff_client, book, value)

    for value in HAND_PICKED[::2]:
        reset_form(staff_client, book, value)
    attempt()


def test_unknown_and_enormous_ids_in_paths_are_not_found(staff_client, book):
    paths = [
        "/customers/{}/",
        "/debits/cards/{}/",
        "/debits/runs/{}/",
        "/debits/runs/{}/progress.json",
    ]
    posts = [
        "/debits/mandates/{}/resync/",
        "/debits/fees/{}/waive/",
        "/debits/fees/{}/approve/",
        "/debits/pauses/{}/resume/",
        "/cards/{}/password-reset/",
        "/staff/{}/reset-second-factor/",
    ]
    known = {
        book.card.pk,
        book.card.customer_id,
        book.mandate.pk,
        book.fee.pk,
        book.pause.pk,
        book.attempt.run_id,
        book.staff.pk,
        book.other_card.pk,
        book.other_card.customer_id,
    }

    @generated()
    @given(pk=hostile_path_id.filter(lambda pk: pk not in known))
    def attempt(pk):
        with Unchanged("unknown ids in paths"):
            for path in paths:
                response = staff_client.get(path.format(pk))
                assert_clear_answer(response, path, 404)
            for path in posts:
                response = staff_client.post(path.format(pk), {"reason": "hostile reason text"})
                assert_clear_answer(response, path, 404)

    attempt()

"""Each diagnosis rule on a crafted timeline: the root cause, the words, the remedies offered."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.complaints.diagnosis import diagnose
from backoffice.complaints.models import RootCause
from backoffice.complaints.timeline import card_timeline
from debits.models import DebitAttempt, Instalment, LateFee, MandateSync
from tests.backoffice.complaints.conftest import build_seed_case, days_ago
from tests.factories import DebitAttemptFactory, InstalmentFactory, MandateFactory

pytestmark = pytest.mark.django_db


def codes(diagnosis) -> set[str]:
    return {remedy.code for remedy in diagnosis.remedies}


def test_the_seed_case_is_diagnosed_in_plain_words_with_resync_retry_and_waiver(seed_case):
    found = diagnose(card_timeline(seed_case.card))

    assert found.root_cause == RootCause.BANK_SYNC_FAILURE
    changed = timezone.localtime(seed_case.change.changed_at)
    failed = timezone.localtime(seed_case.attempt.created_at)
    assert found.text_en == (
        f"The debit of {failed.day} {failed:%B} failed because the agreement was still bound "
        f"to the old password; the transaction password had changed on {changed.day} "
        f"{changed:%B} at 21:14 through mobile app; the re-sync failed twice and has not "
        "succeeded yet; a late fee of ¥50.00 was charged."
    )
    assert "扣款协议仍绑定在旧密码上" in found.text_zh
    assert "21:14通过手机银行修改" in found.text_zh and "滞纳金¥50.00" in found.text_zh
    assert codes(found) == {"resync", "retry", "waive_fee"}
    assert found.remedy("resync", seed_case.mandate.pk) is not None
    assert found.remedy("retry", seed_case.attempt.pk) is not None
    assert found.remedy("waive_fee", seed_case.fee.pk) is not None
    assert found.failed_attempt == seed_case.attempt


def test_a_remedy_the_facts_no_longer_support_is_not_offered(seed_case):
    # The mandate caught up, the instalment was paid on a retry, the fee was waived.
    seed_case.mandate.synced_credential_version = 2
    seed_case.mandate.save(update_fields=["synced_credential_version"])
    MandateSync.objects.create(
        mandate=seed_case.mandate,
        target_credential_version=2,
        trigger="manual",
        outcome="succeeded",
        requested_at=days_ago(9),
        finished_at=days_ago(9),
    )
    Instalment.objects.filter(pk=seed_case.instalment.pk).update(
        state=Instalment.State.SETTLED_LATE,
        amount_paid=seed_case.instalment.amount_due,
        paid_at=days_ago(9),
    )
    DebitAttemptFactory(
        mandate=seed_case.mandate,
        instalment=seed_case.instalment,
        attempt_number=2,
        created_at=days_ago(9),
    )
    LateFee.objects.filter(pk=seed_case.fee.pk).update(
        state=LateFee.State.WAIVED, waived_at=days_ago(5), waiver_reason="bank-side"
    )

    found = diagnose(card_timeline(seed_case.card))

    assert found.root_cause == RootCause.BANK_SYNC_FAILURE
    assert "succeeded on" in found.text_en and "has been waived" in found.text_en
    # Paid a day late: only the interest for that day is left to give back.
    assert codes(found) == {"refund_interest"}
    assert found.remedies[0].amount == (Decimal("480.00") / 30).quantize(Decimal("0.01"))


def test_a_gateway_outage_offers_retry_and_waiver_but_no_resync(db):
    mandate = MandateFactory()
    attempt = DebitAttemptFactory(
        mandate=mandate, state=DebitAttempt.State.FAILED, failure_code="gateway_unavailable"
    )
    LateFee.objects.create(instalment=attempt.instalment, amount=Decimal("50.00"))

    found = diagnose(card_timeline(mandate.card))

    assert found.root_cause == RootCause.GATEWAY_OUTAGE
    assert "the payment network was down" in found.text_en
    assert codes(found) == {"retry", "waive_fee"}


def test_the_customers_funds_are_named_and_nothing_is_offered(db):
    attempt = DebitAttemptFactory(
        state=DebitAttempt.State.FAILED, failure_code="insufficient_funds"
    )
    LateFee.objects.create(instalment=attempt.instalment, amount=Decimal("50.00"))

    found = diagnose(card_timeline(attempt.mandate.card))

    assert found.root_cause == RootCause.CUSTOMER_FUNDS
    assert "not enough money in the account" in found.text_en
    assert "账户余额不足" in found.text_zh
    assert found.remedies == ()
    assert not found.bank_side


def test_a_withdrawn_authorisation_is_named_and_nothing_is_offered(db):
    attempt = DebitAttemptFactory(
        state=DebitAttempt.State.FAILED, failure_code="authorisation_withdrawn"
    )

    found = diagnose(card_timeline(attempt.mandate.card))

    assert found.root_cause == RootCause.AUTHORISATION_WITHDRAWN
    assert "withdrew the debit authorisation" in found.text_en
    assert found.remedies == ()


def test_an_instalment_collected_before_it_was_due_is_a_duplicate_with_a_refund_offered(db):
    mandate = MandateFactory()
    day = timezone.localdate() - dt.timedelta(days=3)
    due = InstalmentFactory(loan=mandate.loan, due_date=day)
    early = InstalmentFactory(loan=mandate.loan, due_date=day + dt.timedelta(days=30))
    DebitAttemptFactory(mandate=mandate, instalment=due, created_at=days_ago(3, 6))
    duplicate = DebitAttemptFactory(mandate=mandate, instalment=early, created_at=days_ago(3, 7))

    found = diagnose(card_timeline(mandate.card))

    assert found.root_cause == RootCause.DUPLICATE
    assert codes(found) == {"refund_duplicate"}
    assert found.remedy("refund_duplicate", duplicate.pk).amount == duplicate.amount


def test_two_instalments_due_and_collected_on_one_day_are_not_a_duplicate(db):
    mandate = MandateFactory()
    today = timezone.localdate()
    for sequence in (1, 2):
        DebitAttemptFactory(
            mandate=mandate,
            instalment=InstalmentFactory(
                loan=mandate.loan, sequence=sequence, due_date=today - dt.timedelta(days=sequence)
            ),
        )

    assert diagnose(card_timeline(mandate.card)).root_cause == RootCause.NONE_FOUND


def test_a_clean_history_finds_no_cause_and_offers_nothing(db):
    attempt = DebitAttemptFactory()

    found = diagnose(card_timeline(attempt.mandate.card))

    assert found.root_cause == RootCause.NONE_FOUND
    assert found.remedies == ()
    assert "未发现" in found.text_zh


def test_what_happened_after_the_complaint_does_not_change_its_diagnosis(db):
    case = build_seed_case()
    received = case.attempt.created_at - dt.timedelta(hours=1)

    found = diagnose(card_timeline(case.card), until=received)

    assert found.root_cause == RootCause.NONE_FOUND


def test_a_binding_that_came_back_after_the_mandate_closed_is_not_counted_as_a_failed_resync(
    seed_case,
):
    MandateSync.objects.filter(mandate=seed_case.mandate).update(
        outcome=MandateSync.Outcome.FAILED, error_code="gateway_unavailable"
    )
    closed = MandateSync.objects.filter(mandate=seed_case.mandate).order_by("requested_at").last()
    closed.error_code = "mandate_closed"
    closed.save(update_fields=["error_code"])

    found = diagnose(card_timeline(seed_case.card))

    assert "the re-sync failed once and has not succeeded yet" in found.text_en
    assert "重新同步失败1次" in found.text_zh

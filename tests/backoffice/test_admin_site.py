"""The Django admin: every model is there, lists cost a fixed number of queries,
personal data is masked, full identifiers are found through their fingerprints,
and the audit trail cannot be rewritten from it."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    AuditEvent,
    Card,
    CardAuthenticator,
    CardCredential,
    Customer,
    CustomerNotice,
    OutboxEvent,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)
from backoffice.complaints.models import (
    Compensation,
    Complaint,
    ComplaintAssignment,
    DeadlineExtension,
    RepairPromise,
)
from debits.models import (
    Alert,
    CollectionPause,
    DebitAttempt,
    DebitDayFigures,
    DebitRun,
    DebitRunChunk,
    Instalment,
    LateFee,
    Loan,
    Mandate,
    MandateSync,
    OperationsSnapshot,
    ReconciliationPass,
    SkippedInstalment,
    WorkerHeartbeat,
)
from simulator.models import (
    SimulatedAgreement,
    SimulatedCardCredential,
    SimulatedCollection,
    SimulatedFault,
    SimulatedPresentation,
)
from tests.conftest import sign_in_verified
from tests.factories import (
    CardFactory,
    ComplaintFactory,
    CustomerFactory,
    InstalmentFactory,
    LoanFactory,
    MandateFactory,
    StaffUserFactory,
)

_serial = itertools.count(1)


def _staff():
    # No usable password: hashing one (argon2, 64 MiB) per row would dominate the test.
    return StaffUserFactory(role="operations", password=None)


def _mandate():
    return MandateFactory()


def _attempt():
    instalment = InstalmentFactory()
    mandate = MandateFactory(loan=instalment.loan)
    n = next(_serial)
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        run=DebitRun.objects.create(run_date=dt.date.today(), kind=DebitRun.Kind.MANUAL),
        attempt_number=1,
        idempotency_key=f"key-{n}",
        amount=instalment.amount_due,
        presented_credential_version=1,
        state=DebitAttempt.State.FAILED,
        failure_code="insufficient_funds",
    )


def _make(model):
    """One row of ``model`` with its own related rows (so lists show varied objects)."""
    n = next(_serial)
    now = timezone.now()
    makers = {
        StaffUser: _staff,
        Customer: CustomerFactory,
        Card: CardFactory,
        # A stand-in hash: hashing real passwords would only slow the test down.
        CardCredential: lambda: CardCredential.objects.create(
            card=CardFactory(), kind=CardCredential.Kind.TRANSACTION, password_hash="$argon2id$x"
        ),
        PasswordChange: lambda: PasswordChange.objects.create(
            card=CardFactory(),
            kind=CardCredential.Kind.TRANSACTION,
            channel="staff_reset",
            actor=_staff(),
            credential_version=2,
        ),
        PasswordResetRequest: lambda: PasswordResetRequest.objects.create(
            card=CardFactory(),
            verification_method="branch_id_check",
            verification_reference=f"BR-{n}",
            token_fingerprint=f"{n:064x}",
            requested_by=_staff(),
            approved_by=_staff(),
            expires_at=now + dt.timedelta(minutes=15),
        ),
        AuditEvent: lambda: AuditEvent.objects.create(
            actor=_staff(), action="card.password_reset", object_type="accounts.card", object_id=n
        ),
        OutboxEvent: lambda: OutboxEvent.objects.create(
            event_type=OutboxEvent.Type.CREDENTIAL_CHANGED, payload={"card_id": n}
        ),
        CustomerNotice: lambda: CustomerNotice.objects.create(
            customer=CustomerFactory(),
            card=CardFactory(),
            topic=CustomerNotice.Topic.PASSWORD_CHANGED,
            language="en",
            subject="Your card password was changed",
            body="...",
            dedup_key=f"admin-test:{n}",
        ),
        Complaint: lambda: ComplaintFactory(assignee=_staff()),
        Compensation: lambda: Compensation.objects.create(
            complaint=ComplaintFactory(),
            kind=Compensation.Kind.GOODWILL,
            amount=Decimal("300.00"),
            reason="Goodwill",
            state=Compensation.State.APPROVED,
            requested_by=_staff(),
            approved_by=_staff(),
        ),
        RepairPromise: lambda: RepairPromise.objects.create(
            complaint=ComplaintFactory(),
            root_cause="bank_sync_failure",
            failed_attempt=_attempt(),
            failed_at=now,
            repair_due_at=now + dt.timedelta(hours=24),
        ),
        DeadlineExtension: lambda: DeadlineExtension.objects.create(
            complaint=ComplaintFactory(),
            stage=1,
            reason="Complex",
            extended_by=_staff(),
            previous_due_on=dt.date(2026, 1, 16),
            new_due_on=dt.date(2026, 1, 31),
        ),
        ComplaintAssignment: lambda: ComplaintAssignment.objects.create(
            complaint=ComplaintFactory(),
            assignee=_staff(),
            team="complaints_desk",
            assigned_by=_staff(),
        ),
        Loan: LoanFactory,
        Instalment: InstalmentFactory,
        Mandate: _mandate,
        MandateSync: lambda: MandateSync.objects.create(
            mandate=_mandate(), target_credential_version=2, trigger="manual", requested_by=_staff()
        ),
        DebitRun: lambda: DebitRun.objects.create(
            run_date=dt.date.today(), kind=DebitRun.Kind.MANUAL, requested_by=_staff()
        ),
        DebitAttempt: _attempt,
        SkippedInstalment: lambda: SkippedInstalment.objects.create(
            run=DebitRun.objects.create(run_date=dt.date.today(), kind=DebitRun.Kind.MANUAL),
            instalment=InstalmentFactory(),
            reason="mandate_missing",
        ),
        LateFee: lambda: LateFee.objects.create(
            instalment=InstalmentFactory(),
            amount=Decimal("25.00"),
            waiver_requested_by=_staff(),
            waiver_approved_by=_staff(),
        ),
        CollectionPause: lambda: CollectionPause.objects.create(
            scope="card", card=CardFactory(), reason="Customer disputes", paused_by=_staff()
        ),
        Alert: lambda: Alert.objects.create(
            kind=Alert.Kind.MANDATE_DRIFT,
            dedup_key=f"drift:{n}",
            card=CardFactory(),
            mandate=_mandate(),
            message="Out of sync for 10 minutes",
            resolved_by=_staff(),
        ),
        CardAuthenticator: lambda: CardAuthenticator.objects.create(
            card=CardFactory(), kind="fingerprint", reference_fingerprint=f"{n:064x}"
        ),
        DebitRunChunk: lambda: DebitRunChunk.objects.create(
            run=DebitRun.objects.create(run_date=dt.date.today(), kind=DebitRun.Kind.MANUAL),
            number=1,
            instalment_ids=[n],
        ),
        ReconciliationPass: lambda: ReconciliationPass.objects.create(detector="agreements"),
        WorkerHeartbeat: lambda: WorkerHeartbeat.objects.create(queue=f"queue-{n}", beat_at=now),
        DebitDayFigures: lambda: DebitDayFigures.objects.create(
            day=dt.date.today() - dt.timedelta(days=n), state="failed", attempts=n
        ),
        OperationsSnapshot: lambda: OperationsSnapshot.objects.create(
            hour=now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=n)
        ),
        SimulatedAgreement: lambda: SimulatedAgreement.objects.create(
            mandate_reference=f"MD{n}", token=f"tok-{n}", credential_version=1
        ),
        SimulatedCardCredential: lambda: SimulatedCardCredential.objects.create(
            card_reference=f"card-{n}", credential_version=2
        ),
        SimulatedCollection: lambda: SimulatedCollection.objects.create(
            idempotency_key=f"sim-{n}",
            mandate_reference=f"MD{n}",
            agreement_token=f"tok-{n}",
            amount_minor=1000,
            outcome="succeeded",
            gateway_reference=f"GW{n}",
        ),
        SimulatedFault: lambda: SimulatedFault.objects.create(
            mandate_reference=f"MD{n}", outcome=SimulatedFault.Outcome.ACCOUNT_CLOSED
        ),
        SimulatedPresentation: lambda: SimulatedPresentation.objects.create(
            request_key=f"collect:{n}", count=1
        ),
    }
    return makers[model]()


OUR_MODELS = sorted(
    (
        model
        for model in admin.site._registry
        if model._meta.app_label in {"accounts", "debits", "simulator", "complaints"}
    ),
    key=lambda model: model._meta.label,
)


@pytest.fixture
def superuser(db):
    return StaffUserFactory(is_superuser=True, username="root")


@pytest.fixture
def admin_client(client, superuser):
    return sign_in_verified(client, superuser)


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_it_registers_every_model_of_the_book_in_the_admin():
    from django.apps import apps

    # Second-factor secrets and staff access changes change only through their
    # services and pages, never in the admin.
    kept_out = {
        "accounts.authenticatordevice",
        "accounts.backupcodedevice",
        "accounts.backupcode",
        "accounts.staffchangerequest",
        "accounts.staffpasswordreset",
        "accounts.breakglassgrant",
    }
    ours = {
        model
        for app in ("accounts", "debits", "simulator", "complaints")
        for model in apps.get_app_config(app).get_models()
        if model._meta.label_lower not in kept_out
    }
    assert ours == set(OUR_MODELS)


@pytest.mark.django_db
@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m._meta.label)
def test_it_lists_each_model_in_a_fixed_number_of_queries(admin_client, model):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(_changelist(model))
        assert response.status_code == 200
        return len(queries)

    for _ in range(3):
        _make(model)
    with_three = count_queries()
    for _ in range(27):
        _make(model)
    assert count_queries() == with_three


@pytest.mark.django_db
@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m._meta.label)
def test_it_opens_each_record_page(admin_client, model):
    obj = _make(model)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_staff_find_a_customer_by_full_card_number_and_national_id(admin_client):
    wanted = CustomerFactory(national_id="11010519900307123X", full_name="李娜")
    CardFactory(customer=wanted, number="6222021234567890")
    other = CustomerFactory(full_name="王强")
    CardFactory(customer=other)

    for term in ("6222 0212 3456 7890", "11010519900307123x"):
        # A full identifier in the URL is moved to its fingerprint form first.
        response = admin_client.get(_changelist(Customer), {"q": term}, follow=True)
        assert list(response.context["cl"].result_list) == [wanted], term

    response = admin_client.get(_changelist(Card), {"q": "6222021234567890"}, follow=True)
    assert [card.customer for card in response.context["cl"].result_list] == [wanted]
    response = admin_client.get(_changelist(Loan), {"q": "李娜"})
    assert list(response.context["cl"].result_list) == []


@pytest.mark.django_db
def test_staff_find_a_loan_by_the_customers_card_last_four(admin_client):
    loan = LoanFactory(card=CardFactory(number="6222029999994321"))
    LoanFactory()
    response = admin_client.get(_changelist(Loan), {"q": "4321"})
    assert list(response.context["cl"].result_list) == [loan]


@pytest.mark.django_db
def test_lists_show_phones_masked_and_never_fingerprints(admin_client):
    customer = CustomerFactory(phone="13812345678")
    card = CardFactory(customer=customer)
    content = admin_client.get(_changelist(Customer)).content.decode()
    assert "138****5678" in content
    assert "13812345678" not in content
    assert customer.national_id_fingerprint not in content
    content = admin_client.get(_changelist(Card)).content.decode()
    assert card.number_fingerprint not in content


@pytest.mark.django_db
def test_an_agent_sees_a_customer_record_with_the_phone_masked(client):
    customer = CustomerFactory(phone="13812345678")
    sign_in_verified(client, StaffUserFactory(role="agent"))
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    content = client.get(url).content.decode()
    assert "138****5678" in content
    assert "13812345678" not in content


@pytest.mark.django_db
def test_a_card_password_hash_is_never_shown(admin_client):
    credential = _make(CardCredential)
    url = reverse("admin:accounts_cardcredential_change", args=[credential.pk])
    assert "$argon2id$" not in admin_client.get(url).content.decode()
    card_url = reverse("admin:accounts_card_change", args=[credential.card_id])
    assert "$argon2id$" not in admin_client.get(card_url).content.decode()


@pytest.mark.django_db
def test_not_even_a_superuser_can_add_change_or_delete_an_audit_event(admin_client):
    event = _make(AuditEvent)
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    delete_url = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:accounts_auditevent_change", args=[event.pk])
    admin_client.post(change_url, {"action": "tampered"})
    event.refresh_from_db()
    assert event.action == "card.password_reset"
    response = admin_client.get(_changelist(AuditEvent))
    assert "delete_selected" not in response.content.decode()


@pytest.mark.django_db
def test_adding_a_customer_keeps_only_the_masked_national_id_and_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_customer_add"),
        {
            "full_name": "陈静",
            "national_id": "440106198802154321",
            "phone": "13900001111",
            "email": "",
            "birth_date": "1988-02-15",
            "status": "active",
            "cards-TOTAL_FORMS": "0",
            "cards-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(full_name="陈静")
    assert customer.national_id_masked == "440106********4321"
    assert "440106198802154321" not in str(Customer.objects.filter(pk=customer.pk).values().get())
    event = AuditEvent.objects.get(action="admin.add")
    assert event.actor.username == "root"
    assert "440106198802154321" not in str(event.summary)

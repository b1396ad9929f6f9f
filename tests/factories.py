"""factory-boy factories for the domain. Use ``.build()`` where no database is needed."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.card_passwords import hash_card_password
from accounts.models import Card, CardCredential, Customer, Language, StaffUser
from accounts.pii import card_number_fingerprint, mask_national_id, national_id_fingerprint
from accounts.roles import sync_role_groups
from backoffice.complaints import deadlines
from backoffice.complaints.models import Complaint
from debits.amortisation import equal_instalment_schedule
from debits.models import DebitAttempt, Instalment, Loan, Mandate, MandateSync

STAFF_PASSWORD = "correct horse battery staple 42"


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Wei"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@bank.example")
    is_staff = True
    # The suite reads its pages in English; a new staff member's default (Chinese)
    # is the model's, and the language tests ask for it by name.
    language = "en"
    password = factory.django.Password(STAFF_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            # A transactional test's flush also empties the groups a data migration made.
            if not Group.objects.filter(name=str(extracted)).exists():
                sync_role_groups()
            self.groups.add(Group.objects.get(name=str(extracted)))

    @factory.post_generation
    def break_glass(self, create, extracted, **kwargs):
        """A superuser exists only under a live, approved break-glass grant."""
        if create and self.is_superuser and extracted is not False:
            from django.utils import timezone

            from accounts.models import BreakGlassGrant

            BreakGlassGrant.objects.create(
                staff=self,
                approved_by=StaffUserFactory(role="supervisor"),
                reason="Test set-up: a superuser for this test",
                expires_at=timezone.now() + timezone.timedelta(hours=1),
            )


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    class Params:
        national_id = factory.Sequence(lambda n: f"110105199001{n:06d}")

    full_name = factory.Sequence(lambda n: f"张伟{n}")
    national_id_masked = factory.LazyAttribute(lambda o: mask_national_id(o.national_id))
    national_id_fingerprint = factory.LazyAttribute(
        lambda o: national_id_fingerprint(o.national_id)
    )
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.cn")
    birth_date = dt.date(1990, 1, 15)
    # English, so tests read the messages; tests of Chinese notices set it.
    language = Language.ENGLISH


class CardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Card

    class Params:
        number = factory.Sequence(lambda n: f"6222{n:012d}")

    customer = factory.SubFactory(CustomerFactory)
    last_four = factory.LazyAttribute(lambda o: o.number[-4:])
    number_fingerprint = factory.LazyAttribute(lambda o: card_number_fingerprint(o.number))
    credit_limit = Decimal("200000.00")
    available_limit = Decimal("50000.00")
    credential_version = 1


class CardCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CardCredential

    class Params:
        password = "480135"

    card = factory.SubFactory(CardFactory)
    kind = CardCredential.Kind.TRANSACTION
    password_hash = factory.LazyAttribute(lambda o: hash_card_password(o.password))


class LoanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Loan
        skip_postgeneration_save = True

    card = factory.SubFactory(CardFactory)
    reference = factory.Sequence(lambda n: f"LN{n:010d}")
    vehicle = "BYD Qin PLUS"
    principal = Decimal("120000.00")
    annual_rate = Decimal("0.048000")
    term_months = 12
    start_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=40))

    @factory.post_generation
    def with_schedule(self, create, extracted, **kwargs):
        """``LoanFactory(with_schedule=True)`` also writes its instalments."""
        if create and extracted:
            Instalment.objects.bulk_create(
                Instalment(
                    loan=self,
                    sequence=row.sequence,
                    due_date=row.due_date,
                    principal_part=row.principal_part,
                    interest_part=row.interest_part,
                    amount_due=row.amount_due,
                )
                for row in equal_instalment_schedule(
                    principal=self.principal,
                    annual_rate=self.annual_rate,
                    term_months=self.term_months,
                    start_date=self.start_date,
                )
            )


class InstalmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instalment

    loan = factory.SubFactory(LoanFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    due_date = factory.LazyFunction(dt.date.today)
    principal_part = Decimal("9800.00")
    interest_part = Decimal("480.00")
    amount_due = factory.LazyAttribute(lambda o: o.principal_part + o.interest_part)
    state = Instalment.State.DUE


class MandateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mandate

    loan = factory.SubFactory(LoanFactory)
    card = factory.LazyAttribute(lambda o: o.loan.card)
    reference = factory.Sequence(lambda n: f"MD{n:012d}")
    payee = "Car Finance Co., Ltd."
    purpose = factory.LazyAttribute(lambda o: f"Car loan {o.loan.reference} repayment")
    settlement_account_masked = "6217 **** **** 0042"
    settlement_account_fingerprint = factory.Sequence(lambda n: f"{n:064x}")
    valid_from = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=365))
    valid_until = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=5 * 365))
    per_debit_cap = Decimal("50000.00")
    state = Mandate.State.ACTIVE
    gateway_agreement_token = factory.Sequence(lambda n: f"agr-{n}")
    synced_credential_version = factory.LazyAttribute(lambda o: o.card.credential_version)


class DebitAttemptFactory(factory.django.DjangoModelFactory):
    """A debit attempt as the engine records it (``mandate`` decides the card)."""

    class Meta:
        model = DebitAttempt

    mandate = factory.SubFactory(MandateFactory)
    instalment = factory.LazyAttribute(
        lambda o: InstalmentFactory(loan=o.mandate.loan, state=Instalment.State.DUE)
    )
    attempt_number = factory.Sequence(lambda n: n + 1)
    idempotency_key = factory.LazyAttribute(lambda o: f"inst-{o.instalment.pk}-{o.attempt_number}")
    amount = factory.LazyAttribute(lambda o: o.instalment.amount_due)
    presented_credential_version = factory.LazyAttribute(
        lambda o: o.mandate.synced_credential_version
    )
    state = DebitAttempt.State.SUCCEEDED
    created_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda o: o.created_at)


class MandateSyncFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MandateSync

    mandate = factory.SubFactory(MandateFactory)
    target_credential_version = factory.LazyAttribute(lambda o: o.mandate.card.credential_version)
    trigger = MandateSync.Trigger.CREDENTIAL_CHANGE
    outcome = MandateSync.Outcome.FAILED
    error_code = "gateway_unavailable"
    requested_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda o: o.requested_at)


class ComplaintFactory(factory.django.DjangoModelFactory):
    """A complaint as logged (prefer ``log_complaint`` where the side effects matter)."""

    class Meta:
        model = Complaint

    card = factory.SubFactory(CardFactory)
    customer = factory.LazyAttribute(lambda o: o.card.customer)
    category = Complaint.Category.DEBIT_FAILED_AFTER_PASSWORD_CHANGE
    channel = Complaint.Channel.PHONE
    description = "My automatic repayment failed and I was charged a late fee."
    logged_by = factory.SubFactory(StaffUserFactory)
    received_at = factory.LazyFunction(timezone.now)
    received_on = factory.LazyAttribute(lambda o: deadlines.received_on(o.received_at))
    due_on = factory.LazyAttribute(lambda o: deadlines.due_on(o.received_on))

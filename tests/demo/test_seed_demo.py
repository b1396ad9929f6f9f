"""seed_demo: a deterministic demo book that never holds a full identifier or password."""

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.card_passwords import card_password_matches
from accounts.models import AuditEvent, Card, CardCredential, Customer, PasswordChange
from debits.models import Instalment, Loan, Mandate
from debits.services import create_mandate, open_loan
from demo.book import seed_demo_book
from demo.generator import generate_demo_book
from simulator.models import SimulatedAgreement
from tests.conftest import PROJECT_DIR
from tests.factories import CardFactory, LoanFactory, MandateFactory

SEED = 7
CUSTOMERS = 60


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, verbosity=0, **options)
    return out.getvalue()


def _book_snapshot() -> list[tuple]:
    return list(
        Loan.objects.order_by("reference").values_list(
            "reference",
            "card__customer__full_name",
            "card__customer__phone",
            "card__customer__national_id_fingerprint",
            "card__number_fingerprint",
            "vehicle",
            "principal",
            "annual_rate",
            "term_months",
            "start_date",
            "mandates__gateway_agreement_token",
        )
    ) + list(Instalment.objects.order_by("loan__reference", "sequence").values_list("amount_due"))


def _erase_book() -> None:
    for model in (
        SimulatedAgreement,
        Mandate,
        Instalment,
        Loan,
        PasswordChange,
        CardCredential,
        Card,
        Customer,
    ):
        model.objects.all().delete()


def test_the_same_seed_generates_the_same_book_and_another_seed_another():
    today = dt.date(2026, 3, 10)
    first = list(generate_demo_book(seed=SEED, customers=50, today=today))
    assert first == list(generate_demo_book(seed=SEED, customers=50, today=today))
    assert first != list(generate_demo_book(seed=SEED + 1, customers=50, today=today))


@pytest.mark.django_db
def test_seed_demo_writes_the_same_book_for_the_same_seed():
    _seed(customers=CUSTOMERS, seed=SEED)
    book = _book_snapshot()
    people = list(generate_demo_book(seed=SEED, customers=CUSTOMERS, today=timezone.localdate()))
    assert [row[1] for row in book[:CUSTOMERS]] == [p.full_name for p in people]

    _erase_book()
    _seed(customers=CUSTOMERS, seed=SEED)
    assert _book_snapshot() == book


@pytest.mark.django_db
def test_seed_demo_builds_a_book_the_debit_run_can_collect():
    _seed(customers=CUSTOMERS, seed=SEED)
    today = timezone.localdate()

    assert Customer.objects.count() == Card.objects.count() == Loan.objects.count() == CUSTOMERS
    assert CardCredential.objects.count() == 2 * CUSTOMERS
    for phone in Customer.objects.values_list("phone", flat=True):
        assert re.fullmatch(r"1[358]\d{9}", phone)
    for loan in Loan.objects.all():
        assert 12 <= loan.term_months <= 60
        assert 50_000 <= loan.principal <= 400_000
        assert Decimal("0.025") <= loan.annual_rate <= Decimal("0.08")
        assert loan.instalments.count() == loan.term_months

    for mandate in Mandate.objects.select_related("card", "loan"):
        assert mandate.state == Mandate.State.ACTIVE
        assert mandate.is_in_sync
        agreement = SimulatedAgreement.objects.get(mandate_reference=mandate.reference)
        assert agreement.token == mandate.gateway_agreement_token
        assert agreement.credential_version == mandate.card.credential_version
        assert mandate.valid_from <= today <= mandate.valid_until
        assert mandate.per_debit_cap >= max(i.amount_due for i in mandate.loan.instalments.all())

    paid = Instalment.objects.filter(state=Instalment.State.PAID)
    assert paid.exists()
    assert all(i.amount_paid == i.amount_due and i.paid_at for i in paid)
    assert not paid.filter(due_date__gte=today).exists()
    week = Instalment.objects.filter(due_date__range=(today, today + dt.timedelta(days=6)))
    assert week.exists()
    assert set(week.values_list("state", flat=True)) == {Instalment.State.DUE}
    assert AuditEvent.objects.filter(action="demo.seeded").count() == 1
    # Rows added afterwards through the ORM get fresh ids (sequences moved past the book).
    # (References of their own: the factories' sequences may reach the book's.)
    MandateFactory(
        loan=LoanFactory(card=CardFactory(), reference="LN-AFTER-SEED"), reference="MD-AFTER-SEED"
    )


@pytest.mark.django_db
def test_the_demo_book_holds_loans_and_mandates_as_the_services_would_write_them():
    seed_demo_book(customers=8, seed=SEED)
    columns = ("sequence", "due_date", "principal_part", "interest_part", "amount_due")
    for person in generate_demo_book(seed=SEED, customers=8, today=timezone.localdate()):
        seeded = Loan.objects.get(reference=person.loan_reference)
        opened = open_loan(
            card=CardFactory(),
            reference=f"X{person.loan_reference}",
            principal=person.principal,
            annual_rate=person.annual_rate,
            term_months=person.term_months,
            start_date=person.start_date,
            actor=None,
        )
        assert list(seeded.instalments.values_list(*columns)) == list(
            opened.instalments.values_list(*columns)
        )
        mandate = seeded.mandates.get()
        # The same terms pass create_mandate for the same loan, and come out the same.
        created = create_mandate(
            loan=opened,
            reference=f"X{mandate.reference}",
            settlement_account=person.settlement_account,
            valid_from=mandate.valid_from,
            valid_until=mandate.valid_until,
            per_debit_cap=mandate.per_debit_cap,
            actor=None,
        )
        assert (mandate.payee, mandate.settlement_account_masked) == (
            created.payee,
            created.settlement_account_masked,
        )
        assert mandate.settlement_account_fingerprint == created.settlement_account_fingerprint
        assert mandate.purpose == created.purpose.replace(opened.reference, seeded.reference)


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_twice_unless_asked_to_skip_quietly():
    _seed(customers=3)
    with pytest.raises(CommandError, match="refusing to seed twice"):
        _seed(customers=3)
    assert "already exists" in _seed(customers=3, if_empty=True)
    assert Customer.objects.count() == 3


@pytest.mark.parametrize(
    ("customers", "seed", "message"),
    [
        (0, 1, "--customers must be between 1 and"),
        (-5, 1, "--customers must be between 1 and"),
        (50_000_000, 1, "--customers must be between 1 and"),
        (10, -1, "--seed must be zero or a positive integer"),
    ],
)
def test_seed_demo_rejects_bad_arguments(customers, seed, message):
    with pytest.raises(CommandError, match=message):
        _seed(customers=customers, seed=seed)


def _manage(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_number_of_customers_exits_non_zero_with_one_line():
    result = _manage("seed_demo", "--customers", "0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: --customers must be between 1 and 1,000,000"
    ]
    result = _manage("seed_demo", "--customers", "many")
    assert result.returncode == 2
    assert "invalid int value: 'many'" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def _database_cells():
    """(table, column, text) for every value in every table of the database."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        yield table, column, str(value)


@pytest.mark.django_db
def test_no_password_full_card_number_national_id_or_phone_is_stored_after_seeding():
    passwords = ["402913", "771350", "958264", "130587"]
    seed_demo_book(customers=CUSTOMERS, seed=SEED, password_pool=passwords)
    people = list(generate_demo_book(seed=SEED, customers=CUSTOMERS, today=timezone.localdate()))
    identifiers = {p.card_number for p in people} | {p.national_id for p in people}
    identifiers |= {p.settlement_account for p in people}
    phones = {p.phone for p in people}
    # A password counts as stored if it stands alone, not as digits inside a hash.
    password_pattern = re.compile(r"(?<![0-9A-Za-z])(" + "|".join(passwords) + r")(?![0-9A-Za-z])")
    identifier_pattern = re.compile("|".join(sorted(identifiers)))
    phone_pattern = re.compile("|".join(sorted(phones)))

    leaks = []
    scanned = 0
    for table, column, text in _database_cells():
        scanned += 1
        if identifier_pattern.search(text) or password_pattern.search(text):
            leaks.append((table, column))
        if phone_pattern.search(text) and (table, column) != ("accounts_customer", "phone"):
            leaks.append((table, column))
    assert scanned > 1000
    assert leaks == []

    # ...while every credential is a real peppered hash of one of the passwords.
    hashes = set(CardCredential.objects.values_list("password_hash", flat=True))
    assert len(hashes) == len(passwords)
    for password_hash in hashes:
        assert any(card_password_matches(password_hash, p) for p in passwords)


@pytest.mark.django_db
def test_the_demo_takes_the_snapshot_its_dashboards_read():
    from debits.models import OperationsSnapshot

    _seed(customers=5, seed=SEED)

    snapshot = OperationsSnapshot.objects.get()
    assert snapshot.active_mandates == Mandate.objects.filter(state="active").count() > 0

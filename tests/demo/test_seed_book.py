"""The load book: bank-sized, fast, and holding the rows the services would write."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Card, CardCredential, Customer, PasswordChange
from accounts.pii import card_network_reference
from debits.models import Instalment, Loan, Mandate, MandateSync
from debits.services import activate_mandate, create_mandate, open_loan, resync_mandate
from demo.book_rows import (
    BOOK_TABLES,
    BookSeedingError,
    card_number,
    loan_reference,
    national_id_and_birth_date,
    settlement_account,
)
from demo.load_book import seed_book
from simulator.models import SimulatedAgreement, SimulatedCardCredential
from tests.demo.test_seed_demo import _database_cells
from tests.factories import CardFactory, CustomerFactory

# A month-end on the 31st: due loans started on a 31st, clamped in shorter months.
MONTH_END = dt.date(2026, 12, 31)
CUSTOMERS = 24
DUE = 10
SCHEDULE = ("sequence", "due_date", "principal_part", "interest_part", "amount_due")

postgres = pytest.mark.postgres


def _catalogue() -> list[tuple]:
    """Every index and constraint of the book's tables, as PostgreSQL describes them."""
    tables = [model._meta.db_table for model in BOOK_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " ORDER BY tablename, indexname",
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [tables],
        )
        return indexes + cursor.fetchall()


@postgres
@pytest.mark.django_db
def test_each_loan_holds_the_schedule_open_loan_writes_and_is_paid_up_to_the_book_date():
    seed_book(CUSTOMERS, due=DUE, on_date=MONTH_END)

    for loan in Loan.objects.select_related("card"):
        opened = open_loan(
            card=CardFactory(),
            reference=f"X{loan.reference}",
            principal=loan.principal,
            annual_rate=loan.annual_rate,
            term_months=loan.term_months,
            start_date=loan.start_date,
            actor=None,
        )
        assert list(loan.instalments.values_list(*SCHEDULE)) == list(
            opened.instalments.values_list(*SCHEDULE)
        )
        for instalment in loan.instalments.all():
            if instalment.due_date < MONTH_END:
                assert instalment.state == Instalment.State.PAID
                assert instalment.amount_paid == instalment.amount_due
                assert instalment.paid_at.date() == instalment.due_date
            else:
                assert instalment.state == Instalment.State.SCHEDULED
                assert (instalment.amount_paid, instalment.paid_at) == (0, None)
        # At least one instalment is still ahead: every loan of the book is live.
        assert loan.instalments.filter(state=Instalment.State.SCHEDULED).exists()
        owed = sum(
            i.principal_part for i in loan.instalments.filter(state=Instalment.State.SCHEDULED)
        )
        assert loan.card.available_limit == loan.card.credit_limit - owed


@postgres
@pytest.mark.django_db
def test_exactly_the_due_loans_fall_due_on_the_month_end_and_nothing_else_is_open_by_then():
    seed_book(CUSTOMERS, due=DUE, on_date=MONTH_END)

    on_the_day = Instalment.objects.filter(due_date=MONTH_END)
    assert on_the_day.count() == DUE
    assert sorted(on_the_day.values_list("loan__reference", flat=True)) == [
        loan_reference(i) for i in range(DUE)
    ]
    # What a debit run on the month-end selects: open and due by then.
    open_by_then = Instalment.objects.filter(
        state__in=Instalment.OPEN_STATES, due_date__lte=MONTH_END
    )
    assert open_by_then.count() == DUE


@postgres
@pytest.mark.django_db
def test_each_mandate_is_the_one_create_mandate_resync_and_activate_leave():
    seed_book(CUSTOMERS, due=DUE, on_date=MONTH_END)

    for index, seeded in enumerate(
        Mandate.objects.select_related("card", "loan").order_by("reference")
    ):
        # The same card, loan and terms through the services.
        card = CardFactory(credential_version=seeded.card.credential_version)
        loan = open_loan(
            card=card,
            reference=f"X{seeded.loan.reference}",
            principal=seeded.loan.principal,
            annual_rate=seeded.loan.annual_rate,
            term_months=seeded.loan.term_months,
            start_date=seeded.loan.start_date,
            actor=None,
        )
        created = create_mandate(
            loan=loan,
            reference=f"X{seeded.reference}",
            settlement_account=settlement_account(index),
            valid_from=seeded.valid_from,
            valid_until=seeded.valid_until,
            per_debit_cap=seeded.per_debit_cap,
            actor=None,
        )
        resync_mandate(mandate=created)
        created = activate_mandate(mandate=created, actor=None)
        created.refresh_from_db()

        assert seeded.payee == created.payee == settings.DEBIT_PAYEE_NAME
        assert seeded.purpose == created.purpose.replace(loan.reference, seeded.loan.reference)
        assert (seeded.settlement_account_masked, seeded.settlement_account_fingerprint) == (
            created.settlement_account_masked,
            created.settlement_account_fingerprint,
        )
        assert (seeded.state, seeded.cycle, seeded.synced_credential_version) == (
            created.state,
            created.cycle,
            created.synced_credential_version,
        )
        assert seeded.is_in_sync and created.is_in_sync
        seeded_sync = seeded.syncs.get()
        created_sync = created.syncs.get()
        assert (seeded_sync.outcome, seeded_sync.target_credential_version) == (
            created_sync.outcome,
            created_sync.target_credential_version,
        )

        # The network's side: agreement and known version as a real binding leaves them.
        network = SimulatedAgreement.objects.get(mandate_reference=seeded.reference)
        bound = SimulatedAgreement.objects.get(mandate_reference=created.reference)
        assert network.token == seeded.gateway_agreement_token
        assert re.fullmatch(rf"agr-{seeded.reference}-v\d-[0-9a-f]{{16}}", network.token)
        assert (network.credential_version, network.revoked) == (
            bound.credential_version,
            bound.revoked,
        )
        assert network.card_reference == card_network_reference(seeded.card.number_fingerprint)
        known = SimulatedCardCredential.objects.get(card_reference=network.card_reference)
        assert known.credential_version == seeded.card.credential_version


@postgres
@pytest.mark.django_db
def test_cards_credentials_and_password_changes_agree_on_the_credential_version():
    seed_book(CUSTOMERS, on_date=MONTH_END)

    assert CardCredential.objects.count() == 2 * CUSTOMERS
    changed = Card.objects.filter(credential_version=2)
    assert changed.count() == CUSTOMERS // 8
    for card in Card.objects.all():
        changes = PasswordChange.objects.filter(card=card)
        assert changes.count() == card.credential_version - 1
        if card.credential_version > 1:
            assert changes.get().changed_at == card.credential_changed_at
    # The national id is the generated one's mask and fingerprint, as onboarding keeps it.
    national_id, birth = national_id_and_birth_date(3)
    reference = CustomerFactory.build(national_id=national_id)
    customer = Loan.objects.get(reference=loan_reference(3)).card.customer
    assert (customer.national_id_masked, customer.national_id_fingerprint, customer.birth_date) == (
        reference.national_id_masked,
        reference.national_id_fingerprint,
        birth,
    )
    assert Customer.objects.values("national_id_fingerprint").distinct().count() == CUSTOMERS


@postgres
@pytest.mark.django_db
def test_no_full_card_number_national_id_or_settlement_account_is_stored():
    seed_book(CUSTOMERS, on_date=MONTH_END)
    identifiers = {card_number(i) for i in range(CUSTOMERS)}
    identifiers |= {settlement_account(i) for i in range(CUSTOMERS)}
    identifiers |= {national_id_and_birth_date(i)[0] for i in range(CUSTOMERS)}
    pattern = re.compile("|".join(sorted(identifiers)))
    cells = list(_database_cells())
    assert len(cells) > 1000
    assert [(table, column) for table, column, text in cells if pattern.search(text)] == []


@postgres
@pytest.mark.django_db
def test_ids_come_from_the_sequences_so_the_orm_inserts_after_the_book_and_a_second_part():
    seed_book(12, on_date=MONTH_END)
    CardFactory()
    seed_book(12, start=12, on_date=MONTH_END, batch=5)
    assert Loan.objects.count() == Mandate.objects.count() == MandateSync.objects.count() == 24
    assert Customer.objects.count() == 25


@postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_and_indexes_built_at_the_end_write_the_same_book():
    catalogue = _catalogue()
    assert len(catalogue) > 40  # each table's keys, unique fingerprints, foreign keys, checks
    seed_book(CUSTOMERS, due=DUE, on_date=MONTH_END, workers=2, batch=5, build_indexes_after=True)

    assert _catalogue() == catalogue
    assert Loan.objects.count() == CUSTOMERS
    assert Instalment.objects.filter(due_date=MONTH_END).count() == DUE
    two_processes = list(
        Instalment.objects.order_by("loan__reference", "sequence").values_list(
            "loan__reference", *SCHEDULE, "state"
        )
    )
    assert len(two_processes) == sum(Loan.objects.values_list("term_months", flat=True))
    one_instalment_per_sequence = [(r[0], r[1]) for r in two_processes]
    assert len(set(one_instalment_per_sequence)) == len(two_processes)


def test_a_book_is_refused_on_sqlite_with_one_line(db):
    if connection.vendor == "postgresql":
        pytest.skip("the refusal is SQLite's")
    with pytest.raises(BookSeedingError, match="needs PostgreSQL"):
        seed_book(3)


@postgres
@pytest.mark.django_db
def test_bad_sizes_are_refused():
    with pytest.raises(BookSeedingError, match="customers must be between"):
        seed_book(0)
    with pytest.raises(BookSeedingError, match="due must be between"):
        seed_book(3, due=4)

"""A realistic, deterministic demo book: customers, cards, car loans, schedules, mandates.

``generate_demo_book(seed=..., customers=...)`` (``demo.generator``) yields the
same people, numbers and loans for the same seed; ``seed_demo_book`` writes them. Full card numbers,
national ids and settlement account numbers exist only in memory here: the
database receives their masked forms and keyed fingerprints, as from any other
source. Tests call the generator with the same seed to learn the full values
and prove none of them reached the database.

Up to a million customers go in as plain rows (COPY on PostgreSQL) in batches:
calling the services once per loan and mandate would multiply the seeding
time. The rows mirror what the domain's services write, and a test holds them
to it (``tests/demo/test_seed_demo.py``):

- a loan and its schedule as ``debits.services.open_loan`` writes them: the
  instalments of ``debits.amortisation.equal_instalment_schedule``, exact to
  the cent (here already months into repayment: past instalments paid);
- a mandate within ``debits.services.create_mandate``'s terms: the payee of
  ``DEBIT_PAYEE_NAME``, the purpose of ``mandate_purpose``, the settlement
  account only as ``mask_account_number`` and its keyed fingerprint, a cap
  covering the largest instalment and a validity reaching past the last one;
  then, as ``resync_mandate`` and ``activate_mandate`` leave it, bound to the
  card's credential version and active.
"""

import datetime as dt
import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, reset_queries, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.card_passwords import hash_card_password
from accounts.models import Card, CardCredential, Channel, Customer, PasswordChange
from accounts.pii import (
    card_network_reference,
    card_number_fingerprint,
    mask_account_number,
    mask_national_id,
    national_id_fingerprint,
)
from debits.amortisation import add_months, equal_instalment_schedule
from debits.models import Instalment, Loan, Mandate
from debits.services.mandates import mandate_purpose
from demo.bulk_rows import INSTALMENT_COLUMNS, MANDATE_COLUMNS, insert_rows
from demo.generator import DemoCustomer, generate_demo_book
from simulator.models import SimulatedAgreement

MAX_DEMO_CUSTOMERS = 1_000_000
# Customers written per transaction: ~40k rows held as tuples, so memory stays
# flat however large the book, and each commit shows on the progress bar.
CUSTOMER_BATCH = 1000
ZERO = Decimal("0.00")
# Each card password is an argon2 hash (~30 ms); one per card would take an hour
# for 100k cards. A demo card's password is never needed (a customer resets it),
# only a real peppered hash is, so a small pool of random passwords is hashed
# once and shared round-robin. The passwords come from ``secrets``, are never
# printed and are forgotten when the command ends.
PASSWORD_POOL_SIZE = 16

PASSWORD_CHANGE_CHANNELS = (Channel.MOBILE_APP, Channel.ATM, Channel.BRANCH)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@functools.lru_cache(maxsize=32768)
def _due_dates(start_date: dt.date, term: int) -> tuple[dt.date, ...]:
    return tuple(add_months(start_date, n) for n in range(1, term + 1))


@functools.lru_cache(maxsize=8192)
def _amounts(principal: Decimal, rate: Decimal, term: int) -> tuple[tuple[Decimal, Decimal], ...]:
    """(principal part, interest part) per instalment; due dates are added per loan."""
    schedule = equal_instalment_schedule(
        principal=principal, annual_rate=rate, term_months=term, start_date=dt.date(2000, 1, 1)
    )
    return tuple((row.principal_part, row.interest_part) for row in schedule)


def _db_datetime(value: dt.datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


@functools.lru_cache(maxsize=8192)
def _morning_for_db(day: dt.date):
    """When a demo loan was opened or an instalment paid: 09:30 in Shanghai that day."""
    return _db_datetime(_morning_of(day))


@functools.lru_cache(maxsize=8192)
def _morning_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=SHANGHAI)


def new_password_pool(size: int = PASSWORD_POOL_SIZE) -> list[str]:
    return [f"{secrets.randbelow(10**6):06d}" for _ in range(size)]


@dataclass
class SeedReport:
    customers: int = 0
    instalments: int = 0
    paid: int = 0
    due_this_week: int = 0


def book_is_empty() -> bool:
    return not (Customer.objects.exists() or Loan.objects.exists())


def seed_demo_book(
    *,
    customers: int,
    seed: int,
    today: dt.date | None = None,
    password_pool: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Write a demo book of ``customers`` customers, each with a card, loan and mandate.

    Batches commit one by one, so a very large book shows progress and holds no
    long lock; the caller checks the book is empty first.
    """
    today = today or timezone.localdate()
    pool = [hash_card_password(p) for p in (password_pool or new_password_pool())]
    report = SeedReport()
    ids = _NextIds.after_existing_rows()
    batch: list[DemoCustomer] = []
    for person in generate_demo_book(seed=seed, customers=customers, today=today):
        batch.append(person)
        if len(batch) == CUSTOMER_BATCH:
            _write_batch(batch, pool=pool, today=today, report=report, ids=ids)
            # With DEBUG on, Django keeps every query's SQL; these are large.
            reset_queries()
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _write_batch(batch, pool=pool, today=today, report=report, ids=ids)
        if progress:
            progress(len(batch))
    _reset_sequences()
    record_audit_event(
        actor=None,
        actor_label="system",
        action=AuditAction.DEMO_SEEDED,
        object_type="demo_book",
        object_id=str(seed),
        summary={"customers": report.customers, "instalments": report.instalments},
    )
    return report


@dataclass
class _NextIds:
    """Primary keys handed out here: rows go in as plain tuples, so nothing returns them."""

    customer: int
    card: int
    credential: int
    password_change: int
    loan: int
    mandate: int
    agreement: int

    @classmethod
    def after_existing_rows(cls) -> "_NextIds":
        def after(model) -> int:
            return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1

        return cls(
            customer=after(Customer),
            card=after(Card),
            credential=after(CardCredential),
            password_change=after(PasswordChange),
            loan=after(Loan),
            mandate=after(Mandate),
            agreement=after(SimulatedAgreement),
        )

    def take(self, name: str, count: int) -> range:
        first = getattr(self, name)
        setattr(self, name, first + count)
        return range(first, first + count)


def _reset_sequences() -> None:
    """Explicit ids leave PostgreSQL's sequences behind; the next ORM insert must not clash."""
    models = [Customer, Card, CardCredential, PasswordChange, Loan, Mandate, SimulatedAgreement]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)


@transaction.atomic
def _write_batch(
    people: list[DemoCustomer],
    *,
    pool: list[str],
    today: dt.date,
    report: SeedReport,
    ids: _NextIds,
) -> None:
    now = timezone.now()
    week_end = today + dt.timedelta(days=6)
    at = _db_datetime
    customer_ids = ids.take("customer", len(people))
    card_ids = ids.take("card", len(people))
    loan_ids = ids.take("loan", len(people))
    schedules = [_amounts(p.principal, p.annual_rate, p.term_months) for p in people]
    due_dates = [_due_dates(p.start_date, p.term_months) for p in people]
    changed_at = [
        now - dt.timedelta(days=p.password_change_days_ago[-1])
        if p.password_change_days_ago
        else None
        for p in people
    ]

    insert_rows(
        Customer,
        (
            "id",
            "full_name",
            "national_id_masked",
            "national_id_fingerprint",
            "phone",
            "email",
            "birth_date",
            "created_at",
        ),
        [
            (
                customer_id,
                p.full_name,
                mask_national_id(p.national_id),
                national_id_fingerprint(p.national_id),
                p.phone,
                p.email,
                p.birth_date,
                _morning_for_db(p.start_date),
            )
            for p, customer_id in zip(people, customer_ids, strict=True)
        ],
    )

    cards = []
    for p, card_id, customer_id, rows, dates, changed in zip(
        people, card_ids, customer_ids, schedules, due_dates, changed_at, strict=True
    ):
        owed = sum((part for (part, _), due in zip(rows, dates, strict=True) if due >= today), ZERO)
        cards.append(
            (
                card_id,
                customer_id,
                p.card_number[-4:],
                card_number_fingerprint(p.card_number),
                p.credit_limit,
                p.credit_limit - owed,
                p.credential_version,
                at(changed),
                _morning_for_db(p.start_date),
            )
        )
    insert_rows(
        Card,
        (
            "id",
            "customer_id",
            "last_four",
            "number_fingerprint",
            "credit_limit",
            "available_limit",
            "credential_version",
            "credential_changed_at",
            "created_at",
        ),
        cards,
    )

    kinds = CardCredential.Kind.values
    credential_ids = iter(ids.take("credential", len(people) * len(kinds)))
    insert_rows(
        CardCredential,
        ("id", "card_id", "kind", "password_hash", "changed_at"),
        [
            (
                next(credential_ids),
                card_id,
                kind,
                pool[(2 * p.index + offset) % len(pool)],
                at(changed) if changed else _morning_for_db(p.start_date),
            )
            for p, card_id, changed in zip(people, card_ids, changed_at, strict=True)
            for offset, kind in enumerate(kinds)
        ],
    )

    changes = [
        (card_id, PASSWORD_CHANGE_CHANNELS[(p.index + version) % 3], version, days_ago)
        for p, card_id in zip(people, card_ids, strict=True)
        for version, days_ago in enumerate(p.password_change_days_ago, start=2)
    ]
    insert_rows(
        PasswordChange,
        ("id", "card_id", "kind", "channel", "credential_version", "changed_at"),
        [
            (change_id, card_id, CardCredential.Kind.TRANSACTION.value, channel, version,
             at(now - dt.timedelta(days=days_ago)))
            for change_id, (card_id, channel, version, days_ago) in zip(
                ids.take("password_change", len(changes)), changes, strict=True
            )
        ],
    )  # fmt: skip

    insert_rows(
        Loan,
        (
            "id",
            "card_id",
            "reference",
            "vehicle",
            "principal",
            "annual_rate",
            "term_months",
            "start_date",
            "created_at",
        ),
        [
            (
                loan_id,
                card_id,
                p.loan_reference,
                p.vehicle,
                p.principal,
                p.annual_rate,
                p.term_months,
                p.start_date,
                _morning_for_db(p.start_date),
            )
            for p, card_id, loan_id in zip(people, card_ids, loan_ids, strict=True)
        ],
    )

    instalments = []
    paid_state, due_state, scheduled_state = (
        Instalment.State.PAID.value,
        Instalment.State.DUE.value,
        Instalment.State.SCHEDULED.value,
    )
    for loan_id, rows, dates in zip(loan_ids, schedules, due_dates, strict=True):
        for sequence, ((principal_part, interest_part), due) in enumerate(
            zip(rows, dates, strict=True), start=1
        ):
            amount = principal_part + interest_part
            if due < today:
                state, paid, paid_at = paid_state, amount, _morning_for_db(due)
                report.paid += 1
            elif due <= week_end:
                state, paid, paid_at = due_state, ZERO, None
                report.due_this_week += 1
            else:
                state, paid, paid_at = scheduled_state, ZERO, None
            instalments.append(
                (
                    loan_id,
                    sequence,
                    due,
                    principal_part,
                    interest_part,
                    amount,
                    paid,
                    state,
                    paid_at,
                )
            )
    insert_rows(Instalment, INSTALMENT_COLUMNS, instalments)

    payee = settings.DEBIT_PAYEE_NAME
    insert_rows(
        Mandate,
        MANDATE_COLUMNS,
        [
            (
                mandate_id,
                card_id,
                loan_id,
                p.mandate_reference,
                payee,
                mandate_purpose(p.loan_reference),
                mask_account_number(p.settlement_account),
                card_number_fingerprint(p.settlement_account),
                p.start_date,
                dates[-1] + dt.timedelta(days=90),
                # Room above the largest instalment, rounded up to a whole thousand.
                Decimal((max(a + b for a, b in rows) // 1000 + 1) * 1000),
                Mandate.State.ACTIVE.value,
                p.agreement_token,
                p.credential_version,
                at(changed) if changed else _morning_for_db(p.start_date),
                _morning_for_db(p.start_date),
            )
            for p, mandate_id, card_id, loan_id, rows, dates, changed in zip(
                people,
                ids.take("mandate", len(people)),
                card_ids,
                loan_ids,
                schedules,
                due_dates,
                changed_at,
                strict=True,
            )
        ],
    )
    # The payment network's side of each agreement, so the demo's collects succeed.
    insert_rows(
        SimulatedAgreement,
        ("id", "mandate_reference", "card_reference", "token", "credential_version", "bound_at"),
        [
            (
                agreement_id,
                p.mandate_reference,
                card_network_reference(card_number_fingerprint(p.card_number)),
                p.agreement_token,
                p.credential_version,
                at(changed) if changed else _morning_for_db(p.start_date),
            )
            for p, agreement_id, changed in zip(
                people, ids.take("agreement", len(people)), changed_at, strict=True
            )
        ],
    )
    report.customers += len(people)
    report.instalments += len(instalments)

"""The rows of one batch of the load book (``demo.book_seeder``), built in Python and copied in.

What each row holds, and the service whose rows it mirrors, is described in
``demo.book_seeder``. Instalments never pass through Python: a schedule depends
only on (principal, rate, term), of which a book has a few thousand, so each is
computed once by ``equal_instalment_schedule`` into a temporary table of the
session and one INSERT ... SELECT per batch expands it for the batch's loans.
PostgreSQL's ``date + n months`` clamps to the month's end exactly as
``add_months`` does.
"""

import datetime as dt
import functools
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Card, CardCredential, Channel, Customer, PasswordChange
from accounts.pii import (
    card_network_reference,
    card_number_fingerprint,
    mask_account_number,
    mask_national_id,
    national_id_fingerprint,
)
from debits.amortisation import add_months, equal_instalment_schedule
from debits.models import Instalment, Loan, Mandate, MandateSync
from debits.services.mandates import mandate_purpose
from demo.bulk_rows import (
    INSTALMENT_COLUMNS,
    MANDATE_COLUMNS,
    default_columns,
    insert_rows,
    reserve_ids,
)
from demo.generator import (
    CARD_BIN,
    GIVEN_NAMES,
    MOBILE_PREFIXES,
    RATES,
    REGIONS,
    SETTLEMENT_BIN,
    SURNAMES,
    TERMS,
    VEHICLES,
    luhn_complete,
    national_id_number,
    unique_number,
)
from simulator.models import SimulatedAgreement, SimulatedCardCredential

# Customers per transaction: ~10 rows each go through Python (instalments do not),
# so a batch is a few MB whatever the book's size, and a commit every batch keeps
# locks short and shows progress.
BOOK_BATCH = 2000
MAX_BOOK_CUSTOMERS = 10_000_000
# One card in this many has changed its transaction password once.
CHANGED_PASSWORD_EVERY = 8
# Birth dates 1965-01-01 .. 2002-12-31: with 16 regions and 1,000 serials a day,
# 222 million distinct national ids, handed out by an index permutation below.
BIRTH_FIRST = dt.date(1965, 1, 1)
BIRTH_DAYS = (dt.date(2002, 12, 31) - BIRTH_FIRST).days + 1
NATIONAL_ID_SPACE = len(REGIONS) * BIRTH_DAYS * 1000
# A prime larger than every factor of NATIONAL_ID_SPACE (2, 5 and BIRTH_DAYS's):
# index * prime mod space visits every id once, without a set of the ids so far.
NATIONAL_ID_STRIDE = 1_000_003
BOOK_TABLES = (
    Customer,
    Card,
    CardCredential,
    PasswordChange,
    Loan,
    Instalment,
    Mandate,
    MandateSync,
    SimulatedAgreement,
    SimulatedCardCredential,
)
SHANGHAI_MORNING = dt.time(9, 30)
# 50,000 to 400,000 in steps of 5,000, as the demo book: few distinct schedules.
PRINCIPALS = tuple(Decimal(thousands * 5000) for thousands in range(10, 81))


class BookSeedingError(Exception):
    """The book cannot be seeded as asked (the message is one line for the operator)."""


@dataclass
class TableFigures:
    rows: int = 0
    seconds: float = 0.0


@dataclass
class BookReport:
    customers: int = 0
    due: int = 0
    seconds: float = 0.0
    tables: dict[str, TableFigures] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def timed(self, model, rows: int, started: float) -> None:
        figures = self.tables.setdefault(model._meta.db_table, TableFigures())
        figures.rows += rows
        figures.seconds += time.perf_counter() - started


@functools.lru_cache(maxsize=16384)
def loan_schedule(principal: Decimal, rate: Decimal, term: int):
    """(rows of (sequence, principal part, interest part), principal repaid after n, largest)."""
    rows = equal_instalment_schedule(
        principal=principal, annual_rate=rate, term_months=term, start_date=dt.date(2000, 1, 1)
    )
    parts = tuple((r.sequence, r.principal_part, r.interest_part) for r in rows)
    repaid = (Decimal("0.00"), *accumulate(r.principal_part for r in rows))
    return parts, repaid, max(r.amount_due for r in rows)


def _instalments_before(start: dt.date, term: int, day: dt.date) -> int:
    """How many of a loan's instalments fall due before ``day`` (the n-th on start + n months)."""
    months = (day.year - start.year) * 12 + day.month - start.month
    if months <= 0:
        return 0
    paid = months if add_months(start, months) < day else months - 1
    return min(paid, term)


def _start_date(rng: random.Random, term: int, on_date: dt.date, *, due: bool) -> dt.date:
    """A loan months into repayment, with one instalment still ahead.

    A due loan has an instalment on ``on_date`` itself: it started on the same
    day of an earlier month (a month that has that day). Any other loan starts
    on a day from 1 to 28 other than ``on_date``'s, so it never falls due on it.
    """
    if due:
        months_in = rng.randint(1, term)
        for months in (months_in, months_in - 1, months_in + 1, months_in - 2, months_in + 2):
            if 1 <= months <= term:
                month = add_months(on_date.replace(day=1), -months)
                try:
                    return month.replace(day=on_date.day)
                except ValueError:
                    continue
        raise BookSeedingError(f"no loan of {term} months can fall due on {on_date}")
    day = rng.randint(1, 28)
    if day == on_date.day:
        day = day % 28 + 1
    return add_months(on_date.replace(day=day), -(rng.randrange(term - 1) + 1))


def _morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, SHANGHAI_MORNING, tzinfo=timezone.get_default_timezone())


def prepare_session() -> None:
    """The schedules table of this connection (temporary: each session has its own)."""
    _KNOWN_SCHEDULES.clear()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.book_schedule")
        cursor.execute(
            "CREATE TEMPORARY TABLE book_schedule ("
            " schedule_id integer, sequence integer, principal_part numeric,"
            " interest_part numeric, PRIMARY KEY (schedule_id, sequence))"
        )


# The (principal, rate, term) schedules already in this session's book_schedule,
# with the number each is stored under.
_KNOWN_SCHEDULES: dict[tuple, int] = {}


@dataclass(frozen=True)
class _Loan:
    index: int
    principal: Decimal
    rate: Decimal
    term: int
    start: dt.date
    version: int


@transaction.atomic
def write_batch(
    indexes: range,
    *,
    due: int,
    on_date: dt.date,
    seed: int,
    pool: list[str],
    report: BookReport,
) -> None:
    with connection.cursor() as cursor:
        # A crash loses at most the last batches, which a re-run writes again; not
        # waiting for each commit's WAL flush saves a disk round trip per batch.
        cursor.execute("SET LOCAL synchronous_commit = off")
    # One stream per batch: the same batch comes out the same on a resumed seeding.
    rng = random.Random(f"{seed}:{indexes.start}")  # nosec B311 # reproducible load data
    n = len(indexes)
    loans = []
    for i in indexes:
        term = rng.choice(TERMS)
        loans.append(
            _Loan(
                index=i,
                principal=rng.choice(PRINCIPALS),
                rate=rng.choice(RATES),
                term=term,
                start=_start_date(rng, term, on_date, due=i < due),
                version=2 if i % CHANGED_PASSWORD_EVERY == CHANGED_PASSWORD_EVERY - 1 else 1,
            )
        )
    card_numbers = [card_number(i) for i in indexes]
    card_fingerprints = [card_number_fingerprint(number) for number in card_numbers]
    opened = [_morning(loan.start) for loan in loans]
    changed = [
        _morning(on_date - dt.timedelta(days=30 + loan.index % 60)) if loan.version > 1 else None
        for loan in loans
    ]

    started = time.perf_counter()
    customer_ids = reserve_ids(Customer, n)
    rows = []
    for i, customer_id, created in zip(indexes, customer_ids, opened, strict=True):
        national_id, birth = national_id_and_birth_date(i)
        rows.append(
            (
                customer_id,
                rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES),
                mask_national_id(national_id),
                national_id_fingerprint(national_id),
                rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
                f"b{i + 1:08d}@mail.example.cn" if i % 5 < 3 else "",
                birth,
                created,
            )
        )
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
        rows,
    )
    report.timed(Customer, n, started)

    started = time.perf_counter()
    card_ids = reserve_ids(Card, n)
    rows = []
    for loan, card_id, customer_id, number, fingerprint, created, when in zip(
        loans, card_ids, customer_ids, card_numbers, card_fingerprints, opened, changed, strict=True
    ):
        _, repaid, _ = loan_schedule(loan.principal, loan.rate, loan.term)
        owed = loan.principal - repaid[_instalments_before(loan.start, loan.term, on_date)]
        limit = loan.principal + 50_000
        rows.append(
            (card_id, customer_id, number[-4:], fingerprint, limit, limit - owed,
             loan.version, when, created)
        )  # fmt: skip
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
        rows,
    )
    report.timed(Card, n, started)

    started = time.perf_counter()
    kinds = CardCredential.Kind.values
    credential_ids = iter(reserve_ids(CardCredential, n * len(kinds)))
    transaction_kind = CardCredential.Kind.TRANSACTION.value
    rows = [
        (
            next(credential_ids),
            card_id,
            kind,
            pool[(2 * loan.index + offset) % len(pool)],
            when if when and kind == transaction_kind else created,
        )
        for loan, card_id, created, when in zip(loans, card_ids, opened, changed, strict=True)
        for offset, kind in enumerate(kinds)
    ]
    insert_rows(CardCredential, ("id", "card_id", "kind", "password_hash", "changed_at"), rows)
    report.timed(CardCredential, len(rows), started)

    started = time.perf_counter()
    changes = [(card_id, when) for card_id, when in zip(card_ids, changed, strict=True) if when]
    channels = (Channel.MOBILE_APP, Channel.ATM, Channel.BRANCH)
    rows = [
        (change_id, card_id, transaction_kind, channels[change_id % 3], 2, when)
        for change_id, (card_id, when) in zip(
            reserve_ids(PasswordChange, len(changes)), changes, strict=True
        )
    ]
    insert_rows(
        PasswordChange,
        ("id", "card_id", "kind", "channel", "credential_version", "changed_at"),
        rows,
    )
    report.timed(PasswordChange, len(rows), started)

    started = time.perf_counter()
    loan_ids = reserve_ids(Loan, n)
    insert_rows(
        Loan,
        ("id", "card_id", "reference", "vehicle", "principal", "annual_rate", "term_months",
         "start_date", "created_at"),
        [
            (loan_id, card_id, loan_reference(loan.index), VEHICLES[loan.index % len(VEHICLES)],
             loan.principal, loan.rate, loan.term, loan.start, created)
            for loan, loan_id, card_id, created in zip(
                loans, loan_ids, card_ids, opened, strict=True
            )
        ],
    )  # fmt: skip
    report.timed(Loan, n, started)

    started = time.perf_counter()
    instalments = _expand_schedules(loans, loan_ids, on_date)
    report.timed(Instalment, instalments, started)

    started = time.perf_counter()
    mandate_ids = reserve_ids(Mandate, n)
    accounts = [settlement_account(i) for i in indexes]
    bound = [when or created for when, created in zip(changed, opened, strict=True)]
    tokens = [
        f"agr-{mandate_reference(loan.index)}-v{loan.version}-{rng.getrandbits(64):016x}"
        for loan in loans
    ]
    payee = settings.DEBIT_PAYEE_NAME
    rows = []
    for loan, mandate_id, card_id, loan_id, account, token, at, created in zip(
        loans, mandate_ids, card_ids, loan_ids, accounts, tokens, bound, opened, strict=True
    ):
        _, _, largest = loan_schedule(loan.principal, loan.rate, loan.term)
        rows.append(
            (
                mandate_id,
                card_id,
                loan_id,
                mandate_reference(loan.index),
                payee,
                mandate_purpose(loan_reference(loan.index)),
                mask_account_number(account),
                card_number_fingerprint(account),
                loan.start,
                add_months(loan.start, loan.term) + dt.timedelta(days=90),
                # Room above the largest instalment, rounded up to a whole thousand.
                Decimal((largest // 1000 + 1) * 1000),
                Mandate.State.ACTIVE.value,
                token,
                loan.version,
                at,
                created,
            )
        )
    insert_rows(
        Mandate,
        MANDATE_COLUMNS,
        rows,
    )
    report.timed(Mandate, n, started)

    started = time.perf_counter()
    triggers = (MandateSync.Trigger.MANUAL.value, MandateSync.Trigger.CREDENTIAL_CHANGE.value)
    insert_rows(
        MandateSync,
        ("id", "mandate_id", "target_credential_version", "trigger", "requested_at",
         "finished_at", "outcome", "latency_ms"),
        [
            (sync_id, mandate_id, loan.version, triggers[loan.version > 1], at, at,
             MandateSync.Outcome.SUCCEEDED.value, 0)
            for sync_id, mandate_id, loan, at in zip(
                reserve_ids(MandateSync, n), mandate_ids, loans, bound, strict=True
            )
        ],
    )  # fmt: skip
    report.timed(MandateSync, n, started)

    started = time.perf_counter()
    card_references = [card_network_reference(fingerprint) for fingerprint in card_fingerprints]
    insert_rows(
        SimulatedAgreement,
        ("id", "mandate_reference", "card_reference", "token", "credential_version", "bound_at"),
        [
            (agreement_id, mandate_reference(loan.index), reference, token, loan.version, at)
            for agreement_id, loan, reference, token, at in zip(
                reserve_ids(SimulatedAgreement, n), loans, card_references, tokens, bound,
                strict=True,
            )
        ],
    )  # fmt: skip
    report.timed(SimulatedAgreement, n, started)

    started = time.perf_counter()
    insert_rows(
        SimulatedCardCredential,
        ("id", "card_reference", "credential_version", "learnt_at"),
        [
            (known_id, reference, loan.version, at)
            for known_id, reference, loan, at in zip(
                reserve_ids(SimulatedCardCredential, n), card_references, loans, bound,
                strict=True,
            )
        ],
    )  # fmt: skip
    report.timed(SimulatedCardCredential, n, started)
    report.customers += n


# The full identifiers of customer ``index``: they exist only in memory while its
# rows are built (and in tests, which learn them here to prove none was stored).


def card_number(index: int) -> str:
    return luhn_complete(f"{CARD_BIN}{unique_number(index, 1, 9):09d}")


def settlement_account(index: int) -> str:
    return luhn_complete(f"{SETTLEMENT_BIN}{unique_number(index, 3, 12):012d}")


def national_id_and_birth_date(index: int) -> tuple[str, dt.date]:
    slot = (index * NATIONAL_ID_STRIDE + 7) % NATIONAL_ID_SPACE
    birth = BIRTH_FIRST + dt.timedelta(days=slot // len(REGIONS) % BIRTH_DAYS)
    serial = slot // (len(REGIONS) * BIRTH_DAYS)
    return national_id_number(REGIONS[slot % len(REGIONS)], birth, serial), birth


def loan_reference(index: int) -> str:
    return f"BL{index + 1:010d}"


def mandate_reference(index: int) -> str:
    return f"BM{index + 1:010d}"


def _expand_schedules(loans: list[_Loan], loan_ids: list[int], on_date: dt.date) -> int:
    """Write every instalment of the batch's loans in one statement; return how many.

    The batch's loans come in as arrays (id, start date, schedule number) and
    each probes the session's schedule table by its index: the loan table is
    not read back, and the schedules table is never scanned whole.
    """
    keys = [(loan.principal, loan.rate, loan.term) for loan in loans]
    new = {key for key in keys if key not in _KNOWN_SCHEDULES}
    with connection.cursor() as cursor:
        if new:
            with cursor.cursor.copy(
                "COPY book_schedule (schedule_id, sequence, principal_part, interest_part)"
                " FROM STDIN"
            ) as copy:
                for key in new:
                    _KNOWN_SCHEDULES[key] = schedule_id = len(_KNOWN_SCHEDULES) + 1
                    for sequence, principal_part, interest_part in loan_schedule(*key)[0]:
                        copy.write_row((schedule_id, sequence, principal_part, interest_part))
            # Temporary tables get no autovacuum: without statistics the planner
            # would take the probe for a scan of an empty table.
            cursor.execute("ANALYZE book_schedule")
        named = INSTALMENT_COLUMNS
        defaults = default_columns(Instalment, named)
        columns = ", ".join(
            connection.ops.quote_name(c) for c in (*named, *(c for c, _ in defaults))
        )
        extra = "".join(", %s" for _ in defaults)
        table = connection.ops.quote_name(Instalment._meta.db_table)
        # Paid as recording leaves an instalment paid: in full, on its due morning.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "  # noqa: S608 # nosec B608 # names from the models
            "SELECT l.id, s.sequence, d.due, s.principal_part, s.interest_part,"
            " s.principal_part + s.interest_part,"
            " CASE WHEN d.due < %s THEN s.principal_part + s.interest_part ELSE 0 END,"
            " CASE WHEN d.due < %s THEN %s ELSE %s END,"
            " CASE WHEN d.due < %s THEN (d.due + %s::time) AT TIME ZONE %s END"
            f"{extra} "
            "FROM unnest(%s::bigint[], %s::date[], %s::integer[]) AS l(id, start_date, schedule)"
            " JOIN book_schedule s ON s.schedule_id = l.schedule"
            " CROSS JOIN LATERAL"
            " (SELECT (l.start_date + make_interval(months => s.sequence))::date AS due) d"
            " ORDER BY l.id, s.sequence",
            [
                on_date,
                on_date,
                Instalment.State.PAID.value,
                Instalment.State.SCHEDULED.value,
                on_date,
                SHANGHAI_MORNING,
                settings.TIME_ZONE,
                *(value for _, value in defaults),
                loan_ids,
                [loan.start for loan in loans],
                [_KNOWN_SCHEDULES[key] for key in keys],
            ],
        )
        return cursor.rowcount

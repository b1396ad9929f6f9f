"""A bank-sized book (customers, cards, credentials, loans with schedules, bound mandates) by COPY.

What each row holds, and the service whose rows it mirrors:

- customer and card as onboarding leaves them: the national id only as
  ``mask_national_id`` and its keyed fingerprint, the card number only as its
  last four and fingerprint, two peppered credential hashes per card (a small
  shared pool: argon2 costs ~50 ms a hash); one card in eight has changed its
  password once (credential version 2, one ``PasswordChange`` row);
- a loan and its schedule as ``open_loan`` writes them (the instalments of
  ``equal_instalment_schedule``, exact to the cent), those due before
  ``on_date`` paid in full as recording leaves them, the rest scheduled;
- a mandate within ``create_mandate``'s terms (payee, purpose, the settlement
  account masked and fingerprinted, a cap above the largest instalment, valid
  past the last), bound by ``resync_mandate`` at the card's credential version
  (its last ``MandateSync`` row, succeeded) and active; and the simulated
  network's side: the agreement and the card's known credential version.

The services' audit trail (one event per loan, mandate and binding) is not
replayed: one event records the seeding.

The rows of a batch are built in ``demo.book_rows``; this module spreads the
batches over processes and rebuilds the instalment indexes at the end.
"""

import contextlib
import datetime as dt
import functools
import multiprocessing
import time
from collections.abc import Callable, Sequence

from django.db import connection
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.card_passwords import hash_card_password
from demo.book import new_password_pool
from demo.book_rows import (
    BOOK_BATCH,
    BOOK_TABLES,
    MAX_BOOK_CUSTOMERS,
    PRINCIPALS,
    BookReport,
    BookSeedingError,
    TableFigures,
    loan_schedule,
    prepare_session,
    write_batch,
)
from demo.generator import (
    RATES,
    TERMS,
)


def seed_book(
    customers: int,
    *,
    due: int = 0,
    on_date: dt.date | None = None,
    start: int = 0,
    seed: int = 1,
    password_pool: Sequence[str] | None = None,
    batch: int = BOOK_BATCH,
    workers: int = 1,
    build_indexes_after: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BookReport:
    """Write customers ``start`` .. ``start + customers - 1`` of the book; return the figures.

    The book stands on ``on_date`` (default today): instalments before it are
    paid. The first ``due`` customers' loans (counted from 0, not from
    ``start``) have an instalment due on ``on_date``, so a debit run on that
    date selects exactly ``due`` instalments. The same ``seed`` and indexes give
    the same book; one book per database (its identifiers are drawn by index).

    ``workers`` processes share the batches. ``build_indexes_after`` drops the
    book tables' secondary indexes, unique and foreign-key constraints for the
    load and adds them back at the end (see ``_indexes_built_at_the_end``):
    only for a database nobody else uses meanwhile, such as a benchmark's own.
    """
    if connection.vendor != "postgresql":
        raise BookSeedingError(
            "seeding a book needs PostgreSQL (it streams rows by COPY): "
            "set DATABASE_URL=postgres://..."
        )
    if not 1 <= customers <= MAX_BOOK_CUSTOMERS or start < 0:
        raise BookSeedingError(f"customers must be between 1 and {MAX_BOOK_CUSTOMERS:,}")
    if not 0 <= due <= start + customers:
        raise BookSeedingError("due must be between 0 and the number of customers")
    on_date = on_date or timezone.localdate()
    pool = [hash_card_password(p) for p in (password_pool or new_password_pool())]
    report = BookReport()
    began = time.perf_counter()
    batches = [
        range(first, min(start + customers, first + batch))
        for first in range(start, start + customers, batch)
    ]
    options = {"due": due, "on_date": on_date, "seed": seed, "pool": pool}
    with _indexes_built_at_the_end(enabled=build_indexes_after, report=report):
        if workers > 1:
            _seed_in_processes(
                batches, workers=workers, options=options, report=report, progress=progress
            )
        else:
            prepare_session()
            for indexes in batches:
                write_batch(indexes, report=report, **options)
                if progress:
                    progress(len(indexes))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Fresh statistics: the first run's plans on the new book should not be guesses.
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in BOOK_TABLES)
        cursor.execute(f"ANALYZE {tables}")
    report.tables["analyze"] = TableFigures(rows=0, seconds=time.perf_counter() - started)
    report.due = max(0, min(due, start + customers) - start)
    record_audit_event(
        actor=None,
        actor_label="system",
        action=AuditAction.DEMO_SEEDED,
        object_type="load_book",
        object_id=str(seed),
        summary={"customers": customers, "first": start, "due": report.due},
    )
    report.seconds = time.perf_counter() - began
    return report


@contextlib.contextmanager
def _indexes_built_at_the_end(*, enabled: bool, report: BookReport):
    """The book tables' indexes and constraints rebuilt once over the whole tables.

    A book holds ~36 instalments per customer; maintaining four B-trees and a
    foreign-key check row by row costs about as much again as writing the rows
    (measured on this machine: 720k rows 17 s with the foreign key checked per
    row, 5.5 s without it; 4.5 s with no index, then 1.1 s to build the three).
    The other tables' unique fingerprints and name indexes take random keys, so
    each insert touches a random leaf page. Primary keys stay (other tables'
    foreign keys point at them); adding the rest back validates every row, so
    nothing is trusted that was not checked. The definitions are read from the
    catalogue, so an index added by a later migration is rebuilt too; they are
    restored even when the seeding fails.
    """
    if not enabled:
        yield
        return
    dropped = [(model, *_drop_indexes(model)) for model in BOOK_TABLES]
    try:
        yield
    finally:
        started = time.perf_counter()
        # Indexes, then unique constraints, then foreign keys: as migrations made them.
        for model, indexes, _, _ in dropped:
            _restore(model, indexes, as_constraints=False)
        for model, _, uniques, _ in dropped:
            _restore(model, uniques, as_constraints=True)
        for model, _, _, foreign_keys in dropped:
            _restore(model, foreign_keys, as_constraints=True)
        report.tables["indexes and constraints"] = TableFigures(
            rows=0, seconds=time.perf_counter() - started
        )


def _drop_indexes(model) -> tuple[list, list, list]:
    """Drop a table's secondary indexes, unique and foreign-key constraints; return them."""
    table = model._meta.db_table
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _, _ in sorted(constraints, key=lambda c: c[2] != "f"):
            cursor.execute(
                f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}"
            )
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    uniques = [(name, definition) for name, definition, kind in constraints if kind == "u"]
    foreign_keys = [(name, definition) for name, definition, kind in constraints if kind == "f"]
    return indexes, uniques, foreign_keys


def _restore(model, dropped: list[tuple[str, str]], *, as_constraints: bool) -> None:
    # What the model declares is rebuilt as its migration wrote it: the catalogue's
    # text of a partial index's predicate reads back differently from the original.
    declared = {index.name: index for index in model._meta.indexes}
    conditional = {c.name: c for c in model._meta.constraints if getattr(c, "condition", None)}
    quoted = connection.ops.quote_name(model._meta.db_table)
    with connection.schema_editor(atomic=False) as editor, connection.cursor() as cursor:
        for name, definition in dropped:
            if name in declared:
                editor.add_index(model, declared[name])
            elif name in conditional:
                editor.add_constraint(model, conditional[name])
            elif as_constraints:
                cursor.execute(
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} "
                    f"{definition}"
                )
            else:
                cursor.execute(definition)


def _seed_one(indexes: range, options: dict) -> BookReport:
    report = BookReport()
    write_batch(indexes, report=report, **options)
    return report


def _seed_in_processes(batches, *, workers: int, options: dict, report: BookReport, progress):
    """Batches spread over ``workers`` processes.

    One process alternates between building rows (Python) and waiting for
    PostgreSQL to write them; with two, each core stays busy with one or the
    other. The batches are independent (ids come from the sequences), so any
    process takes any batch. Forked after the parent closes its connection: a
    connection must never be shared across a fork.
    """
    # Every schedule a book can hold, computed once here and inherited by the forks.
    for principal in PRINCIPALS:
        for rate in RATES:
            for term in TERMS:
                loan_schedule(principal, rate, term)
    connection.close()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=prepare_session) as pool:
        for figures in pool.imap_unordered(functools.partial(_seed_one, options=options), batches):
            report.customers += figures.customers
            for table, table_figures in figures.tables.items():
                merged = report.tables.setdefault(table, TableFigures())
                merged.rows += table_figures.rows
                # Spread over the processes: rows/s per table compares with one process.
                merged.seconds += table_figures.seconds / workers
            if progress:
                progress(figures.customers)
        pool.close()
        pool.join()

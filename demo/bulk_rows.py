"""Plain rows into the database fast: COPY on PostgreSQL, executemany on SQLite.

The demo and load books write tens of rows per customer; building a model
instance and compiling every value through the ORM costs more than the insert
itself, so they hand tuples of column values straight to the driver. Columns
not named get their field's default, so a field added to a model later needs
no change in the seeders.
"""

from collections.abc import Iterable, Sequence

from django.db import connection

# The columns both seeders write for these tables, in the order of their row tuples.
INSTALMENT_COLUMNS = (
    "loan_id",
    "sequence",
    "due_date",
    "principal_part",
    "interest_part",
    "amount_due",
    "amount_paid",
    "state",
    "paid_at",
)
MANDATE_COLUMNS = (
    "id",
    "card_id",
    "loan_id",
    "reference",
    "payee",
    "purpose",
    "settlement_account_masked",
    "settlement_account_fingerprint",
    "valid_from",
    "valid_until",
    "per_debit_cap",
    "state",
    "gateway_agreement_token",
    "synced_credential_version",
    "synced_at",
    "created_at",
)

# Rows per executemany call on SQLite (PostgreSQL streams a whole batch by COPY).
INSERT_BATCH = 2000


def default_columns(model, named: Iterable[str]) -> list[tuple[str, object]]:
    """(column, database value of the field's default) for every column not named."""
    named = set(named)
    return [
        (field.column, field.get_db_prep_save(field.get_default(), connection))
        for field in model._meta.concrete_fields
        # A generated column is the database's to compute (COPY refuses a value for it).
        if field.column not in named and not field.primary_key and not field.generated
    ]


def insert_rows(model, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``model``'s table."""
    if not rows:
        return
    defaults = default_columns(model, columns)
    all_columns = [*columns, *(column for column, _ in defaults)]
    if defaults:
        tail = tuple(value for _, value in defaults)
        rows = [row + tail for row in rows]
    table = connection.ops.quote_name(model._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(c) for c in all_columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(all_columns))
        # Table and column names come from the models, never from input.
        sql = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})"  # noqa: S608 # nosec B608
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(sql, rows[start : start + INSERT_BATCH])


def reserve_ids(model, count: int) -> list[int]:
    """``count`` primary keys taken from the table's own sequence (PostgreSQL).

    Taken, not guessed from MAX(id): the ORM and any concurrent writer keep
    drawing from the same sequence, so nothing needs resetting afterwards and
    nothing can clash.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]

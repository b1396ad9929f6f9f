"""Books for load tests and benchmarks, written as plain rows: fast, and as the services write them.

``seed_book(customers=N)`` writes a bank-sized book: per customer a card with its
credentials, a car loan with its whole equal-instalment schedule, and an active
mandate bound (in sync) at the simulated payment network. With ``due=M`` the
first M loans fall due on ``on_date`` (the month-end run's book). It streams
batches by COPY with ids taken from the tables' sequences, expands the
schedules inside PostgreSQL, and holds one batch in memory however large the
book; a test holds its rows to the services' (``tests/demo/test_seed_book.py``).

``seed_due_instalments`` is the older, plainer book: one due instalment per loan
and nothing else realistic beyond what the debit engine reads.

Rows go in set by set for speed, not through the services, but they keep the
services' rules: each loan's instalments are those of its equal-instalment
schedule (``debits.amortisation``, as ``open_loan`` writes it), and each mandate
carries terms ``create_mandate`` would accept (payee ``DEBIT_PAYEE_NAME``,
purpose ``mandate_purpose``, a cap above the instalment, validity well past its
due date), then bound and active as ``resync_mandate`` and ``activate_mandate``
leave it. In ``seed_due_instalments`` the settlement account is a fixed mask with
a per-row stand-in fingerprint; ``seed_book`` masks and fingerprints a generated
account number, never storing it.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from accounts.models import Card, Customer
from debits.amortisation import add_months, equal_instalment_schedule
from debits.models import Instalment, Loan, Mandate
from debits.services.mandates import mandate_purpose
from demo.book_seeder import BookReport, seed_book
from simulator.models import SimulatedAgreement

__all__ = ["BookReport", "seed_book", "seed_due_instalments"]

# Rows per INSERT statement.
INSERT_BATCH = 5000
# Loans per card: fewer customer and card rows for the same number of instalments.
LOANS_PER_CARD = 10
PRINCIPAL = Decimal("120000.00")
ANNUAL_RATE = Decimal("0.048000")
TERM_MONTHS = 12


def seed_due_instalments(
    *, count: int, due_date: dt.date, prefix: str = "B", start: int = 0, progress=None
) -> list[int]:
    """Write ``count`` due instalments (one loan, mandate and agreement each); return their ids.

    ``start`` numbers the rows on from an earlier call with the same prefix.
    """
    ids: list[int] = []
    for first in range(start, start + count, INSERT_BATCH):
        batch = range(first, min(start + count, first + INSERT_BATCH))
        ids += _seed_batch(batch, due_date, prefix)
        if progress is not None:
            progress(len(batch))
    return ids


@transaction.atomic
def _seed_batch(indexes: range, due_date: dt.date, prefix: str) -> list[int]:
    first_row = equal_instalment_schedule(
        principal=PRINCIPAL,
        annual_rate=ANNUAL_RATE,
        term_months=TERM_MONTHS,
        start_date=add_months(due_date, -1),
    )[0]
    card_indexes = sorted({i // LOANS_PER_CARD for i in indexes})
    customers = Customer.objects.bulk_create(
        Customer(
            full_name=f"Load {prefix}{c}",
            national_id_masked="110105********0000",
            national_id_fingerprint=f"{prefix}-nid-{c:012d}",
            phone=f"139{c:08d}"[-11:],
        )
        for c in card_indexes
    )
    cards = Card.objects.bulk_create(
        Card(
            customer=customer,
            last_four=f"{c % 10000:04d}",
            number_fingerprint=f"{prefix}-card-{c:012d}",
            credit_limit=Decimal("200000.00"),
            available_limit=Decimal("50000.00"),
        )
        for c, customer in zip(card_indexes, customers, strict=True)
    )
    card_for = dict(zip(card_indexes, cards, strict=True))
    loans = Loan.objects.bulk_create(
        Loan(
            card=card_for[i // LOANS_PER_CARD],
            reference=f"L{prefix}{i:012d}",
            principal=PRINCIPAL,
            annual_rate=ANNUAL_RATE,
            term_months=TERM_MONTHS,
            start_date=add_months(due_date, -1),
        )
        for i in indexes
    )
    Mandate.objects.bulk_create(
        Mandate(
            card=loan.card,
            loan=loan,
            reference=f"M{prefix}{i:012d}",
            payee=settings.DEBIT_PAYEE_NAME,
            purpose=mandate_purpose(loan.reference),
            settlement_account_masked="6217 **** **** 0042",
            settlement_account_fingerprint=f"{prefix}-acct-{i:012d}",
            valid_from=due_date - dt.timedelta(days=365),
            valid_until=due_date + dt.timedelta(days=5 * 365),
            per_debit_cap=Decimal("50000.00"),
            state=Mandate.State.ACTIVE,
            gateway_agreement_token=f"agr-M{prefix}{i:012d}-v1",
            synced_credential_version=1,
        )
        for i, loan in zip(indexes, loans, strict=True)
    )
    SimulatedAgreement.objects.bulk_create(
        SimulatedAgreement(
            mandate_reference=f"M{prefix}{i:012d}",
            card_reference=loan.card.network_reference,
            token=f"agr-M{prefix}{i:012d}-v1",
            credential_version=1,
        )
        for i, loan in zip(indexes, loans, strict=True)
    )
    instalments = Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            sequence=1,
            due_date=due_date,
            principal_part=first_row.principal_part,
            interest_part=first_row.interest_part,
            amount_due=first_row.amount_due,
            state=Instalment.State.DUE,
        )
        for loan in loans
    )
    return [instalment.pk for instalment in instalments]

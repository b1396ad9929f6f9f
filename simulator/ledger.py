"""The simulated network's books: agreements, what it knows of each card, the ledger.

The network knows a card only by the opaque reference the bank gives it, and
a card's credential version only from what the bank tells it: the version it
binds an agreement to, and credential-change notices. It never reads the
bank's tables, so tampering with the bank's rows cannot make it accept an
agreement bound before a password change.

On PostgreSQL a collect costs two statements and one commit: one read
(``read_presentation``) of the ledger, the presentations so far, the agreement,
the card's credential version and whether a fault is scripted; one write, of
the ledger row (``ON CONFLICT DO NOTHING``: the first writer wins) or, for an
answer that carried out nothing, of the presentation.

A batch of collects costs the same two statements for the whole batch
(``read_presentations``, ``record_collections``), plus one for the
presentations of the items that carried out nothing and one to read back the
first writer's rows when a key was written concurrently.
"""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from debits.gateways.base import AgreementRecord
from simulator.faults import BIND_FAULTS
from simulator.models import (
    SimulatedAgreement,
    SimulatedCardCredential,
    SimulatedCollection,
    SimulatedFault,
    SimulatedPresentation,
)


@dataclass(frozen=True)
class Seen:
    """What the network knows when a collect arrives, read in one go."""

    first: SimulatedCollection | None  # the ledger's row for this key, if any
    presentation: int  # this request's presentation number (0 when replayed)
    counted: bool  # the presentation is already recorded
    agreement_token: str | None
    agreement_version: int
    agreement_revoked: bool
    card_version: int  # the card's latest credential version the network was told
    fault_scripted: bool  # a collect fault may be scripted for the mandate


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def read_presentation(idempotency_key: str, mandate_reference: str) -> Seen:
    if connection.vendor == "postgresql":
        return _presentation_pg(idempotency_key, mandate_reference)
    return _presentation_portable(idempotency_key, mandate_reference)


def _presentation_pg(idempotency_key: str, mandate_reference: str) -> Seen:
    """Read the ledger, the presentations so far, the agreement, the card's credential
    version and whether a fault is scripted, in one read-only statement.

    The presentation is written later, and only when the answer leaves no ledger
    row (``record_presentation``): a key in the ledger is replayed, never
    presented again, so most collects commit once, with the ledger row. The
    card's version joins on the agreement's card reference (unique index).
    """
    sql = f"""
        SELECT
            p."count",
            c.mandate_reference, c.agreement_token, c.amount_minor, c.outcome,
            c.gateway_reference,
            a.token, a.credential_version, a.revoked,
            cc.credential_version,
            EXISTS (
                SELECT 1 FROM {_table(SimulatedFault)} f
                WHERE f.mandate_reference = %(reference)s AND f.outcome <> ALL(%(bind)s)
                AND (f.remaining IS NULL OR f.remaining <> 0)
            )
        FROM (SELECT 1) AS one
        LEFT JOIN {_table(SimulatedCollection)} c ON c.idempotency_key = %(key)s
        LEFT JOIN {_table(SimulatedPresentation)} p ON p.request_key = %(request_key)s
        LEFT JOIN {_table(SimulatedAgreement)} a ON a.mandate_reference = %(reference)s
        LEFT JOIN {_table(SimulatedCardCredential)} cc
            ON cc.card_reference = a.card_reference AND a.card_reference <> ''
    """  # noqa: S608 # nosec B608 - table names are the models' own, every value a parameter
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "request_key": f"collect:{idempotency_key}",
                "key": idempotency_key,
                "reference": mandate_reference,
                "bind": [str(kind) for kind in BIND_FAULTS],
            },
        )
        return _seen(idempotency_key, cursor.fetchone())


def read_presentations(requests: list[tuple[str, str]]) -> list[Seen]:
    """``read_presentation`` for (idempotency key, mandate reference) pairs, in order."""
    if connection.vendor != "postgresql":
        return [_presentation_portable(key, reference) for key, reference in requests]
    sql = f"""
        SELECT
            p."count",
            c.mandate_reference, c.agreement_token, c.amount_minor, c.outcome,
            c.gateway_reference,
            a.token, a.credential_version, a.revoked,
            cc.credential_version,
            EXISTS (
                SELECT 1 FROM {_table(SimulatedFault)} f
                WHERE f.mandate_reference = v.reference AND f.outcome <> ALL(%(bind)s)
                AND (f.remaining IS NULL OR f.remaining <> 0)
            )
        FROM unnest(%(keys)s::text[], %(references)s::text[]) WITH ORDINALITY
            AS v(key, reference, ord)
        LEFT JOIN {_table(SimulatedCollection)} c ON c.idempotency_key = v.key
        LEFT JOIN {_table(SimulatedPresentation)} p ON p.request_key = 'collect:' || v.key
        LEFT JOIN {_table(SimulatedAgreement)} a ON a.mandate_reference = v.reference
        LEFT JOIN {_table(SimulatedCardCredential)} cc
            ON cc.card_reference = a.card_reference AND a.card_reference <> ''
        ORDER BY v.ord
    """  # noqa: S608 # nosec B608 - table names are the models' own, every value a parameter
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "keys": [key for key, _ in requests],
                "references": [reference for _, reference in requests],
                "bind": [str(kind) for kind in BIND_FAULTS],
            },
        )
        rows = cursor.fetchall()
    return [_seen(key, row) for (key, _), row in zip(requests, rows, strict=True)]


def _seen(idempotency_key: str, row: tuple) -> Seen:
    (count, c_ref, c_token, c_amount, c_outcome, c_gw_ref, token, version, revoked, card,
     fault) = row  # fmt: skip
    first = None
    if c_ref is not None:
        first = SimulatedCollection(
            idempotency_key=idempotency_key,
            mandate_reference=c_ref,
            agreement_token=c_token,
            amount_minor=c_amount,
            outcome=c_outcome,
            gateway_reference=c_gw_ref,
        )
    return Seen(
        first=first,
        presentation=0 if first is not None else (count or 0) + 1,
        counted=False,
        agreement_token=token,
        agreement_version=version or 0,
        agreement_revoked=bool(revoked),
        card_version=card or 0,
        fault_scripted=bool(fault),
    )


def record_presentations(request_keys: list[str]) -> None:
    """``record_presentation`` for many requests in one statement (keys distinct)."""
    if not request_keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {_table(SimulatedPresentation)} AS p (request_key, "count") '  # noqa: S608 # nosec B608
            "SELECT k, 1 FROM unnest(%s::text[]) AS k "
            'ON CONFLICT (request_key) DO UPDATE SET "count" = p."count" + 1',
            [request_keys],
        )


def record_collections(rows: list[SimulatedCollection]) -> list[SimulatedCollection]:
    """Write the ledger rows in one statement; return, in order, each key's row in the
    ledger: ours, or for a key written concurrently the first writer's (first wins)."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        return [
            record_collection(row)
            or SimulatedCollection.objects.get(idempotency_key=row.idempotency_key)
            for row in rows
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(SimulatedCollection)} "  # noqa: S608 # nosec B608
            "(idempotency_key, mandate_reference, agreement_token, amount_minor, outcome, "
            "gateway_reference, created_at) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], "
            "%s::text[], %s::text[], %s::timestamptz[]) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key, id",
            [
                [r.idempotency_key for r in rows],
                [r.mandate_reference for r in rows],
                [r.agreement_token for r in rows],
                [r.amount_minor for r in rows],
                [r.outcome for r in rows],
                [r.gateway_reference for r in rows],
                [r.created_at for r in rows],
            ],
        )
        inserted = dict(cursor.fetchall())
    lost = [r.idempotency_key for r in rows if r.idempotency_key not in inserted]
    firsts = (
        {c.idempotency_key: c for c in SimulatedCollection.objects.filter(idempotency_key__in=lost)}
        if lost
        else {}
    )
    written = []
    for row in rows:
        if row.idempotency_key in inserted:
            row.pk = inserted[row.idempotency_key]
            written.append(row)
        else:
            written.append(firsts[row.idempotency_key])
    return written


def collections_for(idempotency_keys: list[str]) -> dict[str, SimulatedCollection]:
    """The ledger's rows for these keys, in one query."""
    return {
        c.idempotency_key: c
        for c in SimulatedCollection.objects.filter(idempotency_key__in=idempotency_keys)
    }


def _presentation_portable(idempotency_key: str, mandate_reference: str) -> Seen:
    first = SimulatedCollection.objects.filter(idempotency_key=idempotency_key).first()
    if first is not None:
        return Seen(first, 0, True, None, 0, False, 0, False)
    presentation = count_presentation(f"collect:{idempotency_key}")
    agreement = SimulatedAgreement.objects.filter(mandate_reference=mandate_reference).first()
    card_version = None
    if agreement is not None and agreement.card_reference:
        card_version = (
            SimulatedCardCredential.objects.filter(card_reference=agreement.card_reference)
            .values_list("credential_version", flat=True)
            .first()
        )
    return Seen(
        first=None,
        presentation=presentation,
        counted=True,
        agreement_token=agreement.token if agreement else None,
        agreement_version=agreement.credential_version if agreement else 0,
        agreement_revoked=bool(agreement and agreement.revoked),
        card_version=card_version or 0,
        fault_scripted=True,
    )


def record_presentation(request_key: str) -> None:
    """Count one more presentation of a request whose answer left no ledger row (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {_table(SimulatedPresentation)} AS p (request_key, "count") '  # noqa: S608 # nosec B608
            'VALUES (%s, 1) ON CONFLICT (request_key) DO UPDATE SET "count" = p."count" + 1',
            [request_key],
        )


def count_presentation(request_key: str) -> int:
    """Record one more presentation of this request and return its number (1, 2, ...)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                SimulatedPresentation.objects.create(request_key=request_key, count=1)
                return 1
        except IntegrityError:
            pass
        SimulatedPresentation.objects.filter(request_key=request_key).update(count=F("count") + 1)
        return SimulatedPresentation.objects.get(request_key=request_key).count


def record_collection(row: SimulatedCollection) -> SimulatedCollection | None:
    """Write the ledger row; None when the key is already there (first writer wins)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_table(SimulatedCollection)} "  # noqa: S608 # nosec B608
                "(idempotency_key, mandate_reference, agreement_token, amount_minor, outcome, "
                "gateway_reference, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                [
                    row.idempotency_key,
                    row.mandate_reference,
                    row.agreement_token,
                    row.amount_minor,
                    row.outcome,
                    row.gateway_reference,
                    row.created_at,
                ],
            )
            inserted = cursor.fetchone()
        if inserted is None:
            return None
        row.pk = inserted[0]
        return row
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return None
    return row


# --- Agreements and cards ------------------------------------------------------


def bind(*, mandate_reference: str, card_reference: str, credential_version: int):
    """Bind the mandate's agreement to this version; never backwards. Returns the agreement.

    Same version: the same token (idempotent). An older version than the one
    bound is not bound: the network answers with the binding it holds, whose
    version tells the caller the truth. The version bound is also what the
    network now knows of the card's credential.
    """
    with transaction.atomic():
        agreement = (
            SimulatedAgreement.objects.select_for_update()
            .filter(mandate_reference=mandate_reference)
            .first()
        )
        created = False
        if agreement is None:
            agreement, created = _get_or_create_agreement(
                mandate_reference, card_reference, credential_version
            )
            if not created:  # another process bound it first: lock theirs
                agreement = SimulatedAgreement.objects.select_for_update().get(pk=agreement.pk)
        changed = []
        if not created and agreement.credential_version < credential_version:
            agreement.token = _new_token(mandate_reference, credential_version)
            agreement.credential_version = credential_version
            agreement.bound_at = timezone.now()
            changed += ["token", "credential_version", "bound_at"]
        if card_reference and agreement.card_reference != card_reference:
            agreement.card_reference = card_reference
            changed.append("card_reference")
        if changed:
            agreement.save(update_fields=changed)
        learn_credential_version(
            card_reference=card_reference, credential_version=credential_version
        )
    return agreement


def learn_credential_version(*, card_reference: str, credential_version: int) -> None:
    """Remember the card's credential version; only ever forward, so a repeat is harmless."""
    if not card_reference:
        return
    known, created = SimulatedCardCredential.objects.get_or_create(
        card_reference=card_reference, defaults={"credential_version": credential_version}
    )
    if not created and known.credential_version < credential_version:
        SimulatedCardCredential.objects.filter(
            pk=known.pk, credential_version__lt=credential_version
        ).update(credential_version=credential_version, learnt_at=timezone.now())


def _new_token(mandate_reference: str, credential_version: int) -> str:
    return f"agr-{mandate_reference}-v{credential_version}-{secrets.token_hex(8)}"


def _get_or_create_agreement(
    mandate_reference: str, card_reference: str, credential_version: int
) -> tuple[SimulatedAgreement, bool]:
    """The unique mandate_reference decides a race between two first bindings."""
    try:
        with transaction.atomic():
            return (
                SimulatedAgreement.objects.create(
                    mandate_reference=mandate_reference,
                    card_reference=card_reference,
                    token=_new_token(mandate_reference, credential_version),
                    credential_version=credential_version,
                ),
                True,
            )
    except IntegrityError:
        return SimulatedAgreement.objects.get(mandate_reference=mandate_reference), False


def agreements(
    *, mandate_references: list[str] | None = None, after: str = "", limit: int | None = None
) -> list[AgreementRecord]:
    """The network's agreements: those of the references, or all after ``after`` in
    reference order (one indexed query either way)."""
    rows = SimulatedAgreement.objects.order_by("mandate_reference")
    if mandate_references is not None:
        rows = rows.filter(mandate_reference__in=mandate_references)
    else:
        rows = rows.filter(mandate_reference__gt=after)[:limit]
    return [
        AgreementRecord(
            mandate_reference=ref,
            agreement_token=token,
            credential_version=version,
            revoked=revoked,
        )
        for ref, token, version, revoked in rows.values_list(
            "mandate_reference", "token", "credential_version", "revoked"
        )
    ]


# --- Levers for tests and the demo ---------------------------------------------


def revoke_agreement(*, mandate_reference: str) -> None:
    """The customer withdrew the authorisation at the network's side."""
    SimulatedAgreement.objects.filter(mandate_reference=mandate_reference).update(revoked=True)


def bound_version(mandate_reference: str) -> int | None:
    """The credential version the network holds for a mandate (None if never bound)."""
    return (
        SimulatedAgreement.objects.filter(mandate_reference=mandate_reference)
        .values_list("credential_version", flat=True)
        .first()
    )


def known_credential_version(card_reference: str) -> int | None:
    """The latest credential version the network was told for a card (None if never)."""
    return (
        SimulatedCardCredential.objects.filter(card_reference=card_reference)
        .values_list("credential_version", flat=True)
        .first()
    )

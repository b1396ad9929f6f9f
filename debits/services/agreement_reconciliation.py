"""Our mandates against the payment network's own agreements: a full pass.

The bank's mandates and the network's agreements are two books kept apart; this
pass is the cross-check between them. Every active mandate is compared, in
keyset-paginated chunks of ``AGREEMENT_CHUNK`` ids, with the agreement the
network holds for it (one ``list_agreements`` call per chunk):

- missing at the network, a different token, or a different bound version: the
  binding we recorded is not the network's, so we forget it (conditionally, on
  the token we hold) and re-sync at once, trigger ``reconciliation``;
- revoked at the network: the customer withdrew the authorisation there, which
  the bank must not undo by re-binding; one critical alert per mandate, resolved
  when the network no longer reports it revoked or the mandate is no longer active.

Chunks are fanned out to workers (``reconcile_agreement_chunk_task``) or run
inline (``manage.py reconcile --only agreements``); each bumps the pass's
counters with F(), and the chunk that finishes last closes the pass and
raises or resolves the book-wide alert for mismatches it could not repair.
"""

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import AuditAction, record_audit_event
from debits.gateways import GatewayError, get_gateway
from debits.gateways.base import MAX_AGREEMENTS_PER_QUERY, AgreementRecord
from debits.models import Alert, Mandate, MandateSync, ReconciliationPass
from debits.services.alerts import raise_alert, resolve_cleared_alerts
from debits.services.reconciliation import DetectorReport
from debits.services.resync import MandateNotResyncable, resync_mandate

# Mandates per chunk: one network query each, so as large as the network accepts.
AGREEMENT_CHUNK = MAX_AGREEMENTS_PER_QUERY
MISMATCH_ALERT_KEY = "agreement_mismatch:book"
DETECTOR = "agreements"


def revoked_alert_key(mandate_id: int) -> str:
    return f"agreement_revoked:mandate:{mandate_id}"


def _active_mandates():
    return Mandate.objects.filter(state=Mandate.State.ACTIVE)


def chunk_bounds(*, chunk_size: int = AGREEMENT_CHUNK) -> list[tuple[int, int]]:
    """(after id, last id) of each chunk, by keyset: one index probe per chunk, never
    an OFFSET over the whole table, so a million mandates cost 2,000 short queries."""
    ids = _active_mandates().order_by("pk").values_list("pk", flat=True)
    bounds, after = [], 0
    while True:
        last = list(ids.filter(pk__gt=after)[chunk_size - 1 : chunk_size])
        if last:
            bounds.append((after, last[0]))
            after = last[0]
            continue
        tail = ids.filter(pk__gt=after).order_by("-pk").first()
        if tail is not None:
            bounds.append((after, tail))
        return bounds


def reconcile_agreements(
    *, dry_run: bool = False, fan_out: bool = False, now: dt.datetime | None = None
) -> DetectorReport:
    """Start a full pass. Inline, the report holds its totals; fanned out, the
    chunks run on workers and the pass row (``ReconciliationPass``) fills as they finish."""
    bounds = chunk_bounds()
    run = ReconciliationPass.objects.create(
        detector=DETECTOR,
        dry_run=dry_run,
        started_at=now or timezone.now(),
        chunks_total=len(bounds),
    )
    report = DetectorReport(detector=DETECTOR, dry_run=dry_run)
    report.notes.append(f"pass #{run.pk}: {len(bounds)} chunk(s)")
    if not bounds:
        _finish_pass(run.pk)
        return report
    if fan_out:
        from debits.tasks.reconciliation import reconcile_agreement_chunk_task

        def enqueue() -> None:
            for after, last in bounds:
                reconcile_agreement_chunk_task.delay(run.pk, after, last)

        transaction.on_commit(enqueue)
        return report
    for after, last in bounds:
        reconcile_agreement_chunk(pass_id=run.pk, after_id=after, last_id=last)
    run.refresh_from_db()
    report.found, report.repaired = run.mismatched, run.repaired
    report.notes.append(
        f"checked {run.checked}, could not repair {run.unrepaired} (revoked ones alerted apart)"
    )
    return report


def _differs(mandate: dict, agreement: AgreementRecord | None) -> str:
    if agreement is None:
        return "missing"
    if agreement.revoked:
        return "revoked"
    if agreement.agreement_token != mandate["gateway_agreement_token"]:
        return "token"
    if agreement.credential_version != mandate["synced_credential_version"]:
        return "version"
    return ""


def reconcile_agreement_chunk(*, pass_id: int, after_id: int, last_id: int) -> dict:
    """Compare one chunk (ids in ``(after_id, last_id]``) with the network; repair; count."""
    run = ReconciliationPass.objects.get(pk=pass_id)
    mandates = list(
        _active_mandates()
        .filter(pk__gt=after_id, pk__lte=last_id)
        .order_by("pk")
        .values("pk", "reference", "gateway_agreement_token", "synced_credential_version")
    )
    counts = {"checked": len(mandates), "mismatched": 0, "repaired": 0, "unrepaired": 0}
    try:
        page = get_gateway().list_agreements(mandate_references=[m["reference"] for m in mandates])
    except GatewayError:
        # The network could not answer: every mandate of the chunk stays unchecked.
        counts["unrepaired"] = len(mandates)
        _count(run.pk, counts, failed_chunk=True)
        return counts
    held = {a.mandate_reference: a for a in page.agreements}
    revoked_keys, cleared_revoked = [], []
    for mandate in mandates:
        difference = _differs(mandate, held.get(mandate["reference"]))
        if not difference:
            cleared_revoked.append(revoked_alert_key(mandate["pk"]))
            continue
        counts["mismatched"] += 1
        if difference == "revoked":
            # Not ours to repair, and alerted one by one: not an "unrepaired" mismatch.
            revoked_keys.append(mandate)
            continue
        if run.dry_run:
            continue
        if _repair(mandate, difference=difference, agreement=held.get(mandate["reference"])):
            counts["repaired"] += 1
        else:
            counts["unrepaired"] += 1
    if not run.dry_run:
        for mandate in revoked_keys:
            raise_alert(
                kind=Alert.Kind.MANDATE_DRIFT,
                dedup_key=revoked_alert_key(mandate["pk"]),
                severity=Alert.Severity.CRITICAL,
                mandate=Mandate.objects.get(pk=mandate["pk"]),
                message=gettext_noop(
                    "The network reports the agreement of mandate %(mandate)s revoked: the "
                    "customer withdrew the authorisation there. Contact the customer before "
                    "collecting again."
                ),
                params={"mandate": mandate["reference"]},
            )
        # Only when some revoked alert is open: the common pass asks nothing more.
        if cleared_revoked and _revoked_alerts_open():
            resolve_cleared_alerts(
                dedup_keys=cleared_revoked, note="The network holds the agreement again."
            )
    _count(run.pk, counts)
    return counts


def _revoked_alerts_open() -> bool:
    return Alert.objects.filter(
        kind=Alert.Kind.MANDATE_DRIFT,
        resolved_at__isnull=True,
        dedup_key__startswith="agreement_revoked:",
    ).exists()


def _repair(mandate: dict, *, difference: str, agreement: AgreementRecord | None) -> bool:
    """Forget the binding the network does not hold, then bind again through re-sync."""
    Mandate.objects.filter(
        pk=mandate["pk"], gateway_agreement_token=mandate["gateway_agreement_token"]
    ).update(synced_credential_version=0)
    record_audit_event(
        actor=None,
        action=AuditAction.MANDATE_AGREEMENT_MISMATCH_FOUND,
        object_type="debits.mandate",
        object_id=mandate["pk"],
        summary={
            "difference": difference,
            "our_version": mandate["synced_credential_version"],
            "network_version": agreement.credential_version if agreement else None,
        },
    )
    try:
        sync = resync_mandate(
            mandate=Mandate.objects.select_related("card").get(pk=mandate["pk"]),
            trigger=MandateSync.Trigger.RECONCILIATION,
        )
    except MandateNotResyncable:
        return False
    return sync.outcome == MandateSync.Outcome.SUCCEEDED


def _count(pass_id: int, counts: dict, *, failed_chunk: bool = False) -> None:
    ReconciliationPass.objects.filter(pk=pass_id).update(
        chunks_done=F("chunks_done") + 1,
        checked=F("checked") + counts["checked"],
        mismatched=F("mismatched") + counts["mismatched"],
        repaired=F("repaired") + counts["repaired"],
        unrepaired=F("unrepaired") + counts["unrepaired"],
    )
    _finish_pass(pass_id)


def _finish_pass(pass_id: int) -> None:
    """Close the pass once every chunk reported: exactly one caller wins the UPDATE."""
    now = timezone.now()
    closed = ReconciliationPass.objects.filter(
        pk=pass_id, finished_at__isnull=True, chunks_done__gte=F("chunks_total")
    ).update(finished_at=now)
    if not closed:
        return
    run = ReconciliationPass.objects.get(pk=pass_id)
    record_audit_event(
        actor=None,
        action=AuditAction.RECONCILIATION_AGREEMENTS_PASS_FINISHED,
        target=run,
        summary={
            "checked": run.checked,
            "mismatched": run.mismatched,
            "repaired": run.repaired,
            "unrepaired": run.unrepaired,
            "dry_run": run.dry_run,
        },
    )
    if run.dry_run:
        return
    if run.unrepaired > 0:
        raise_alert(
            kind=Alert.Kind.MANDATE_DRIFT,
            dedup_key=MISMATCH_ALERT_KEY,
            severity=Alert.Severity.CRITICAL,
            message=gettext_noop(
                "Agreement pass #%(run)s: %(unrepaired)s of %(checked)s active mandates "
                "differ from the network's agreements and could not be repaired."
            ),
            params={"run": run.pk, "unrepaired": run.unrepaired, "checked": run.checked},
        )
    else:
        resolve_cleared_alerts(
            dedup_keys=[MISMATCH_ALERT_KEY],
            note=f"Agreement pass #{run.pk}: every active mandate matches the network.",
        )

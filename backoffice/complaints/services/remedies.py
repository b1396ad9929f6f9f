"""One-click remedies: the diagnosis offers them, the existing debit services carry them out.

A remedy is applied only if the diagnosis, computed again now, still offers
it for that target: a button from a stale page cannot re-sync a mandate that
is in sync already or waive a fee that is gone. Each remedy is audited on the
complaint as well as by the service that carries it out.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from accounts.models import StaffUser
from backoffice.complaints.models import Compensation, Complaint
from backoffice.complaints.services.compensation import request_compensation
from backoffice.complaints.services.errors import ComplaintError
from backoffice.complaints.services.workflow import HANDLE, complaint_diagnosis, require
from debits.models import DebitAttempt, LateFee, Mandate, MandateSync
from debits.services import (
    DebitRunError,
    FeeWaiverError,
    MandateNotResyncable,
    resync_mandate,
    retry_debit_attempts,
    waive_late_fee,
)


def _record(complaint: Complaint, actor: StaffUser, code: str, target_id: int, result: str):
    record_audit_event(
        actor=actor,
        action=AuditAction.COMPLAINT_REMEDY_APPLIED,
        target=complaint,
        summary={"remedy": code, "target": target_id, "result": result},
    )


def apply_remedy(*, complaint: Complaint, code: str, target_id: int, actor: StaffUser) -> str:
    """Carry out one offered remedy; returns what happened, in words for the page."""
    require(actor, HANDLE, "handle complaints")
    if not complaint.is_open:
        raise ComplaintError(gettext_noop("Remedies apply while the complaint is open"))
    _, found = complaint_diagnosis(complaint)
    offered = found.remedy(code, target_id) if found else None
    if offered is None:
        raise ComplaintError(
            gettext_noop("The card's history does not support that remedy (any more)")
        )
    reason = f"Complaint #{complaint.pk}: {complaint.get_category_display()}"
    try:
        if code == "resync":
            # No transaction around it: the re-sync calls the network with none open.
            require(actor, "debits.resync_mandate", "re-sync mandates")
            mandate = Mandate.objects.select_related("card").get(pk=target_id)
            sync = resync_mandate(mandate=mandate, trigger=MandateSync.Trigger.MANUAL, actor=actor)
            result = f"re-sync {sync.get_outcome_display().lower()}"
            _record(complaint, actor, code, target_id, result)
            return f"Mandate {mandate.reference}: {result}"
        with transaction.atomic():
            if code == "retry":
                attempt = DebitAttempt.objects.get(pk=target_id)
                run = retry_debit_attempts(attempts=[attempt], actor=actor)
                result = f"retry started in run {run.pk}"
            elif code == "waive_fee":
                fee = waive_late_fee(
                    fee=LateFee.objects.get(pk=target_id), reason=reason, actor=actor
                )
                result = f"late fee {fee.get_state_display().lower()}"
                if fee.state == LateFee.State.WAIVED:
                    # Waived by the fee service (its own approval rule): recorded on the
                    # complaint so the reports count what the customer got back.
                    Compensation.objects.create(
                        complaint=complaint,
                        kind=Compensation.Kind.FEE_WAIVER,
                        amount=fee.amount,
                        reason=reason,
                        state=Compensation.State.APPROVED,
                        late_fee=fee,
                        requested_by=actor,
                        decided_at=fee.waived_at,
                    )
            else:
                kind = {
                    "refund_interest": Compensation.Kind.INTEREST_REFUND,
                    "refund_duplicate": Compensation.Kind.DUPLICATE_REFUND,
                }[code]
                compensation = request_compensation(
                    complaint=complaint,
                    kind=kind,
                    amount=offered.amount,
                    reason=f"{reason} ({offered.label_en})",
                    actor=actor,
                    debit_attempt=DebitAttempt.objects.get(pk=target_id),
                )
                result = f"compensation {compensation.get_state_display().lower()}"
            _record(complaint, actor, code, target_id, result)
    except (DebitRunError, FeeWaiverError, MandateNotResyncable) as exc:
        raise ComplaintError(str(exc)) from None
    return result[:1].upper() + result[1:]

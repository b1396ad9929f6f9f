"""Every write in debits that matters: one function per business action.

Grouped in modules by subject (re-sync, credential changes, runs, eligibility,
chunks, recording, janitor, fees, controls, alerts); import them from here:
``from debits.services import resync_mandate``. The outcome table is
``debits.outcomes``; ``OUTCOMES`` and ``normalise_failure_code`` are also
exported here, as they always were.
"""

from debits.outcomes import OUTCOMES, normalise_failure_code
from debits.services.agreement_reconciliation import reconcile_agreements
from debits.services.alerts import (
    AlertError,
    acknowledge_alert,
    raise_alert,
    resolve_alert,
    resolve_cleared_alerts,
    resolve_cleared_alerts_of_kind,
)
from debits.services.chunks import collect_debit_chunk
from debits.services.controls import CollectionControlError, pause_collection, resume_collection
from debits.services.credential_changes import (
    apply_credential_change,
    give_up_credential_change,
    sweep_outbox,
)
from debits.services.eligibility import check_authorisation_terms
from debits.services.fees import (
    FeeWaiverError,
    accrue_late_fees,
    approve_fee_waiver,
    waive_late_fee,
)
from debits.services.janitor import settle_unresolved_attempts
from debits.services.loans import LoanTermsError, open_loan
from debits.services.mandates import (
    MandateTermsError,
    MandateTransitionError,
    activate_mandate,
    cancel_mandate,
    create_mandate,
    suspend_mandate,
)
from debits.services.operations import (
    EmergencyControlError,
    record_worker_heartbeat,
    request_resync_of_stale_mandates,
    take_operations_snapshot,
)
from debits.services.reconciliation import (
    DetectorReport,
    reconcile_failure_rates,
    reconcile_outbox,
    reconcile_repeated_credential_changes,
    reconcile_stale_mandates,
    reconcile_unresolved_attempts,
    run_reconciliation,
)
from debits.services.recording import record_debit_outcomes
from debits.services.resync import (
    MandateNotResyncable,
    close_interrupted_syncs,
    mark_mandate_sync_failed,
    resync_mandate,
)
from debits.services.runs import DebitRunError, retry_debit_attempts, run_debit_job
from debits.services.stuck_runs import StuckRunError, reconcile_stuck_runs, rerun_stuck_debit_run

__all__ = [
    "OUTCOMES",
    "AlertError",
    "DetectorReport",
    "EmergencyControlError",
    "record_worker_heartbeat",
    "request_resync_of_stale_mandates",
    "reconcile_agreements",
    "reconcile_failure_rates",
    "reconcile_outbox",
    "reconcile_repeated_credential_changes",
    "reconcile_stale_mandates",
    "reconcile_stuck_runs",
    "reconcile_unresolved_attempts",
    "rerun_stuck_debit_run",
    "StuckRunError",
    "run_reconciliation",
    "take_operations_snapshot",
    "acknowledge_alert",
    "resolve_alert",
    "resolve_cleared_alerts",
    "resolve_cleared_alerts_of_kind",
    "CollectionControlError",
    "DebitRunError",
    "FeeWaiverError",
    "accrue_late_fees",
    "approve_fee_waiver",
    "check_authorisation_terms",
    "collect_debit_chunk",
    "normalise_failure_code",
    "pause_collection",
    "record_debit_outcomes",
    "resume_collection",
    "retry_debit_attempts",
    "run_debit_job",
    "settle_unresolved_attempts",
    "waive_late_fee",
    "MandateNotResyncable",
    "apply_credential_change",
    "close_interrupted_syncs",
    "give_up_credential_change",
    "mark_mandate_sync_failed",
    "raise_alert",
    "resync_mandate",
    "sweep_outbox",
    # loans and the mandate lifecycle
    "LoanTermsError",
    "MandateTermsError",
    "MandateTransitionError",
    "activate_mandate",
    "cancel_mandate",
    "create_mandate",
    "open_loan",
    "suspend_mandate",
]

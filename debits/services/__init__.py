"""Every write in debits that matters: one function per business action.

Grouped in modules by subject (re-sync, collection, fees, controls); import
them from here: ``from debits.services import resync_mandate``.
"""

from debits.services.alerts import raise_alert
from debits.services.credential_changes import (
    apply_credential_change,
    give_up_credential_change,
    sweep_outbox,
)
from debits.services.resync import (
    MandateNotResyncable,
    mark_mandate_sync_failed,
    resync_mandate,
)

__all__ = [
    "MandateNotResyncable",
    "apply_credential_change",
    "give_up_credential_change",
    "mark_mandate_sync_failed",
    "raise_alert",
    "resync_mandate",
    "sweep_outbox",
]

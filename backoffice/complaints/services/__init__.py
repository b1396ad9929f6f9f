"""Every write of the complaints area: one function per business action.

Grouped by subject; import them from here:
``from backoffice.complaints.services import assign_complaint``.
"""

from backoffice.complaints.services.compensation import (
    approve_compensation,
    confirm_compensation_proposal,
    needs_second_approver,
    reject_compensation,
    request_compensation,
)
from backoffice.complaints.services.deadline_watch import watch_complaint_deadlines
from backoffice.complaints.services.errors import ComplaintError
from backoffice.complaints.services.remedies import apply_remedy
from backoffice.complaints.services.repair_promise import (
    review_open_repair_promises,
    review_repair_promise,
    start_repair_clock,
)
from backoffice.complaints.services.workflow import (
    TRANSITIONS,
    assign_complaint,
    close_complaint,
    complaint_diagnosis,
    conflicts_of_interest,
    decide_complaint,
    extend_complaint_deadline,
    log_complaint,
    reopen_complaint,
    start_investigation,
)

__all__ = [
    "TRANSITIONS",
    "ComplaintError",
    "apply_remedy",
    "approve_compensation",
    "assign_complaint",
    "close_complaint",
    "complaint_diagnosis",
    "confirm_compensation_proposal",
    "conflicts_of_interest",
    "decide_complaint",
    "extend_complaint_deadline",
    "log_complaint",
    "needs_second_approver",
    "reject_compensation",
    "reopen_complaint",
    "request_compensation",
    "review_open_repair_promises",
    "review_repair_promise",
    "start_investigation",
    "start_repair_clock",
    "watch_complaint_deadlines",
]

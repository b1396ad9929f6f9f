"""What the customer is told about their complaint, in their language."""

from accounts.models import CustomerNotice
from accounts.services import NoticeText, queue_customer_notice
from backoffice.complaints.models import Complaint

# The measures require the decision to name the ways open to a customer who disagrees.
FURTHER_CHANNELS_EN = (
    "If you disagree, you may ask us to review the decision, seek mediation, "
    "or take the matter to arbitration or to court."
)
FURTHER_CHANNELS_ZH = "如您对处理结果有异议，可申请复核，或通过调解、仲裁、诉讼等途径解决。"

OUTCOME_ZH = {
    Complaint.Outcome.UPHELD: "投诉成立",
    Complaint.Outcome.PARTLY_UPHELD: "投诉部分成立",
    Complaint.Outcome.NOT_UPHELD: "投诉不成立",
}


def tell_complaint_acknowledged(complaint: Complaint) -> None:
    due = f"{complaint.due_on:%Y-%m-%d}"
    queue_customer_notice(
        customer=complaint.customer,
        card=complaint.card,
        topic=CustomerNotice.Topic.COMPLAINT_ACKNOWLEDGED,
        dedup_key=f"complaint_acknowledged:{complaint.pk}",
        text=NoticeText(
            subject_en=f"We received your complaint (No. {complaint.pk})",
            body_en=(
                f"We received your complaint No. {complaint.pk} on "
                f"{complaint.received_on:%Y-%m-%d} and will give you our decision by {due}. "
                "You need not send us anything we already hold."
            ),
            subject_zh=f"我们已收到您的投诉（编号{complaint.pk}）",
            body_zh=(
                f"我们已于{complaint.received_on:%Y-%m-%d}收到您的投诉（编号{complaint.pk}），"
                f"将于{due}前答复处理结果。我行已掌握的资料无需您再次提供。"
            ),
        ),
    )


def tell_deadline_extended(complaint: Complaint, *, reason: str) -> None:
    due = f"{complaint.due_on:%Y-%m-%d}"
    queue_customer_notice(
        customer=complaint.customer,
        card=complaint.card,
        topic=CustomerNotice.Topic.COMPLAINT_EXTENDED,
        dedup_key=f"complaint_extended:{complaint.pk}:{complaint.deadline_stage}",
        text=NoticeText(
            subject_en=f"More time for your complaint (No. {complaint.pk})",
            body_en=(
                f"Your complaint No. {complaint.pk} needs more investigation ({reason}). "
                f"We will give you our decision by {due}."
            ),
            subject_zh=f"您的投诉（编号{complaint.pk}）处理期限延长",
            body_zh=(
                f"您的投诉（编号{complaint.pk}）需要进一步调查（{reason}），"
                f"我们将于{due}前答复处理结果。"
            ),
        ),
    )


def tell_complaint_decided(complaint: Complaint) -> None:
    outcome = Complaint.Outcome(complaint.outcome)
    queue_customer_notice(
        customer=complaint.customer,
        card=complaint.card,
        topic=CustomerNotice.Topic.COMPLAINT_DECIDED,
        # A reopened complaint decided again is a new decision: a new notice.
        dedup_key=f"complaint_decided:{complaint.pk}:{complaint.decided_at:%Y%m%d%H%M%S%f}",
        text=NoticeText(
            subject_en=f"Our decision on your complaint (No. {complaint.pk})",
            body_en=(
                f"Your complaint No. {complaint.pk}: {outcome.label.lower()}. "
                f"{complaint.decision} {FURTHER_CHANNELS_EN}"
            ),
            subject_zh=f"关于您的投诉（编号{complaint.pk}）的处理结果",
            body_zh=(
                f"您的投诉（编号{complaint.pk}）：{OUTCOME_ZH[outcome]}。"
                f"{complaint.decision} {FURTHER_CHANNELS_ZH}"
            ),
        ),
    )

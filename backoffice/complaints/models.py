"""Complaints, their assignments and deadline extensions, compensation, the repair promise.

The rules that must hold whatever the UI does are database constraints: the
approver of a compensation is never its requester, a complaint's deadline
stage matches its extensions, amounts are positive.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Card, Customer
from debits.models import MONEY, DebitAttempt, LateFee


class Team(models.TextChoices):
    """Who handles complaints: each complaint sits in one team's queue."""

    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    COMPLAINTS_DESK = "complaints_desk", _("Complaints desk")
    CARD_OPERATIONS = "card_operations", _("Card operations")


class RootCause(models.TextChoices):
    BANK_SYNC_FAILURE = "bank_sync_failure", _("Bank-side sync failure")
    GATEWAY_OUTAGE = "gateway_outage", _("Payment network outage")
    CUSTOMER_FUNDS = "customer_funds", _("Customer's funds")
    AUTHORISATION_WITHDRAWN = "authorisation_withdrawn", _("Customer withdrew authorisation")
    DUPLICATE = "duplicate", _("Duplicate debit")
    NONE_FOUND = "none_found", _("No cause found")


BANK_SIDE_ROOT_CAUSES = frozenset({RootCause.BANK_SYNC_FAILURE, RootCause.GATEWAY_OUTAGE})


class Complaint(models.Model):
    class Category(models.TextChoices):
        DEBIT_FAILED_AFTER_PASSWORD_CHANGE = (
            "debit_failed_after_password_change",
            _("Auto-debit failed after a password change"),
        )
        DUPLICATE_DEBIT = "duplicate_debit", _("Duplicate debit")
        WRONG_AMOUNT = "wrong_amount", _("Wrong amount")
        FEE_DISPUTE = "fee_dispute", _("Fee dispute")
        PASSWORD_RESET_PROBLEM = "password_reset_problem", _("Password reset problem")
        OTHER = "other", _("Other")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        BRANCH = "branch", _("Branch")
        APP = "app", _("App")
        LETTER = "letter", _("Letter")
        REGULATOR_REFERRAL = "regulator_referral", _("Regulator referral")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        INVESTIGATING = "investigating", _("Investigating")
        DECIDED = "decided", _("Decided")
        CLOSED = "closed", _("Closed")

    class DeadlineStage(models.IntegerChoices):
        STANDARD = 0, _("15 days")
        EXTENDED = 1, _("Extended to 30 days")
        FURTHER_EXTENDED = 2, _("Extended to 60 days")

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("Upheld")
        PARTLY_UPHELD = "partly_upheld", _("Partly upheld")
        NOT_UPHELD = "not_upheld", _("Not upheld")

    OPEN_STATES = (State.RECEIVED, State.INVESTIGATING)

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="complaints")
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints"
    )
    category = models.CharField(max_length=40, choices=Category.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    description = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    team = models.CharField(max_length=20, choices=Team.choices, default=Team.COMPLAINTS_DESK)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    # The day of receipt in Asia/Shanghai: the regulator's days count from it.
    received_on = models.DateField()
    due_on = models.DateField()
    deadline_stage = models.PositiveSmallIntegerField(
        choices=DeadlineStage.choices, default=DeadlineStage.STANDARD
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    root_cause = models.CharField(max_length=30, choices=RootCause.choices, blank=True)
    # The diagnosis as it stood when the complaint was decided: {"en": ..., "zh": ...}.
    diagnosis = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    decision = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("handle_complaint", "Can investigate, assign and decide complaints"),
            ("approve_deadline_extension", "Can approve a complaint deadline beyond 30 days"),
            ("view_complaint_report", "Can see and export the complaint reports"),
        ]
        ordering = ["due_on", "received_at", "id"]
        indexes = [
            models.Index(fields=["state", "due_on"]),
            models.Index(fields=["assignee", "state"]),
            models.Index(fields=["team", "state"]),
            models.Index(fields=["card", "-received_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("received_on")), name="complaint_due_after_receipt"
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["decided", "closed"])
                | (Q(decided_at__isnull=False) & ~Q(root_cause="") & ~Q(outcome="")),
                name="complaint_decided_has_cause_and_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Complaint #{self.pk} ({self.get_category_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class ComplaintAssignment(models.Model):
    """Each time a complaint changes hands: the queue history."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="assignments")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    team = models.CharField(max_length=20, choices=Team.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assigned_at", "id"]

    def __str__(self) -> str:
        return f"Complaint {self.complaint_id} to staff {self.assignee_id}"


class DeadlineExtension(models.Model):
    """A complaint's deadline moved to 30 days (with a reason) or 60 (a supervisor approved)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="extensions")
    stage = models.PositiveSmallIntegerField(
        choices=[c for c in Complaint.DeadlineStage.choices if c[0] > 0]
    )
    reason = models.TextField()
    extended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Beyond 30 days only a supervisor may extend; their approval is this row's author.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    previous_due_on = models.DateField()
    new_due_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["complaint", "stage"], name="one_extension_per_stage"),
            models.CheckConstraint(
                condition=~Q(stage=2) | Q(approved_by__isnull=False),
                name="extension_to_60_days_is_approved",
            ),
            models.CheckConstraint(
                condition=Q(new_due_on__gt=F("previous_due_on")),
                name="extension_moves_the_deadline_later",
            ),
        ]

    def __str__(self) -> str:
        return f"Extension of complaint {self.complaint_id} to {self.new_due_on}"


class Compensation(models.Model):
    """Money the bank gives back or pays; above a threshold a second person approves it."""

    class Kind(models.TextChoices):
        FEE_WAIVER = "fee_waiver", _("Fee waiver")
        INTEREST_REFUND = "interest_refund", _("Interest refund")
        DUPLICATE_REFUND = "duplicate_refund", _("Refund of a duplicate debit")
        GOODWILL = "goodwill", _("Goodwill credit")
        REPAIR_DELAY = "repair_delay", _("Late repair (the bank's promise)")

    class State(models.TextChoices):
        # Created by the repair-promise clock; an officer confirms it (or rejects it).
        PROPOSED = "proposed", _("Proposed automatically")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting a second approver")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="compensations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    reason = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices)
    late_fee = models.ForeignKey(
        LateFee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    debit_attempt = models.ForeignKey(
        DebitAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("approve_compensation", "Can approve a compensation above the threshold"),
        ]
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="compensation_positive"),
            # Maker-checker: whatever the code above does, nobody approves their own request.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(requested_by__isnull=True)
                | ~Q(approved_by=F("requested_by")),
                name="compensation_approver_is_not_requester",
            ),
            models.CheckConstraint(
                condition=~Q(state="awaiting_approval") | Q(requested_by__isnull=False),
                name="compensation_awaiting_approval_has_requester",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ¥{self.amount} on complaint {self.complaint_id}"


class RepairPromise(models.Model):
    """The card contract's clock: a bank-caused failure is repaired in time, or compensated."""

    class State(models.TextChoices):
        RUNNING = "running", _("Clock running")
        KEPT = "kept", _("Kept")
        BROKEN = "broken", _("Broken")

    complaint = models.OneToOneField(
        Complaint, on_delete=models.PROTECT, related_name="repair_promise"
    )
    root_cause = models.CharField(max_length=30, choices=RootCause.choices)
    failed_attempt = models.ForeignKey(DebitAttempt, on_delete=models.PROTECT, related_name="+")
    failed_at = models.DateTimeField()
    repair_due_at = models.DateTimeField()
    repaired_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    compensation = models.OneToOneField(
        Compensation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(repair_due_at__gt=F("failed_at")), name="repair_due_after_failure"
            ),
        ]

    def __str__(self) -> str:
        return f"Repair promise of complaint {self.complaint_id} ({self.state})"

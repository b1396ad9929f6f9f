"""Changes to who may do what: maker-checker requests, staff reset links, break-glass.

Granting a role, re-enabling an account and resetting a staff password widen
someone's access, so one person asks and another decides
(``StaffChangeRequest``); the database refuses a request decided by the person
who made it or by the person it is about. A staff password is never set by
someone else: an approved reset sends its owner a single-use link
(``StaffPasswordReset``, only the token's fingerprint stored). A superuser
exists only as a time-limited, approved, audited break-glass grant
(``BreakGlassGrant``).
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StaffChangeRequest(models.Model):
    class Kind(models.TextChoices):
        GRANT_ROLE = "grant_role", _("Grant a role")
        REACTIVATE = "reactivate", _("Re-enable the account")
        RESET_PASSWORD = "reset_password", _("Reset the password (a link to its owner)")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved and applied")
        REJECTED = "rejected", _("Rejected")

    staff = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="change_requests"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The role's group name, for a grant; blank otherwise.
    role = models.CharField(max_length=40, blank=True)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        "accounts.StaffUser", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        permissions = [
            ("request_staff_change", "Can ask for a role grant, re-enabling or password reset"),
            ("approve_staff_change", "Can approve another person's staff change request"),
        ]
        indexes = [models.Index(fields=["state", "-requested_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(requested_by=F("staff")), name="staff_change_not_asked_for_oneself"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | (~Q(decided_by=F("requested_by")) & ~Q(decided_by=F("staff"))),
                name="staff_change_decided_by_a_second_person",
            ),
            models.CheckConstraint(
                condition=(Q(state="pending") & Q(decided_by__isnull=True))
                | (~Q(state="pending") & Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
                name="staff_change_decided_iff_not_pending",
            ),
            models.CheckConstraint(
                condition=Q(kind="grant_role", role__gt="") | (~Q(kind="grant_role") & Q(role="")),
                name="staff_change_role_only_for_a_grant",
            ),
            models.UniqueConstraint(
                fields=["staff", "kind", "role"],
                condition=Q(state="pending"),
                name="one_pending_staff_change_of_a_kind",
            ),
        ]

    def __str__(self) -> str:
        what = f"{self.get_kind_display()} {self.role}".strip()
        return f"{what} for {self.staff_id} ({self.state})"


class StaffPasswordReset(models.Model):
    """A single-use link for a staff member to choose a new password."""

    staff = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="password_resets"
    )
    change_request = models.OneToOneField(
        StaffChangeRequest, on_delete=models.PROTECT, related_name="password_reset"
    )
    token_fingerprint = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="staff_reset_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        return f"Staff password reset #{self.pk} for {self.staff_id}"


class BreakGlassGrant(models.Model):
    """A superuser for a stated reason, approved by a second person, until ``expires_at``."""

    staff = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    reason = models.TextField()
    approved_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(approved_by=F("staff")), name="break_glass_approved_by_another"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("granted_at")),
                name="break_glass_expires_after_grant",
            ),
            models.UniqueConstraint(
                fields=["staff"],
                condition=Q(ended_at__isnull=True),
                name="one_open_break_glass_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"Break-glass for {self.staff_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None and self.expires_at > timezone.now()

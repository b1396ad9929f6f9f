"""Staff, customers, cards and their credentials, the audit trail and the outbox.

Nothing here stores a full card number, a full national id or a password:
cards and national ids keep a masked form plus a keyed fingerprint for lookup,
passwords keep an argon2 hash of an HMAC under a server-side pepper.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Right
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit_actions import AuditAction


class StaffUser(AbstractUser):
    """A member of bank staff. Roles are groups (see ``accounts.roles``)."""

    class Language(models.TextChoices):
        # Each language named in itself, so anyone can find their own in the switch.
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    employee_number = models.CharField(max_length=20, blank=True)
    # Bumped whenever the password, second factor or active flag changes; part of
    # the session hash, so every open session of this person ends at once.
    session_generation = models.PositiveIntegerField(default=0)
    # The workspace's language for this person, applied at sign-in and on every
    # request (backoffice.language); the bank's staff work in Chinese first.
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )

    class Meta:
        permissions = [
            ("unlock_staff", "Can unlock a locked-out staff login"),
            ("reset_staff_second_factor", "Can reset a staff member's second factor"),
            ("clear_sign_in_history", "Can clear old sign-in history, with a reason"),
        ]
        verbose_name = "staff user"

    def get_session_auth_hash(self) -> str:
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "accounts.StaffUser.session",
            f"{self.password}:{self.session_generation}",
            algorithm="sha256",
        ).hexdigest()


class Language(models.TextChoices):
    CHINESE = "zh-hans", "中文"
    ENGLISH = "en", "English"


class Customer(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    full_name = models.CharField(max_length=120)
    # e.g. 110105********1234: enough for staff to confirm on the phone, no more.
    national_id_masked = models.CharField(max_length=24)
    national_id_fingerprint = models.CharField(max_length=64, unique=True)
    phone = models.CharField(max_length=20)
    # What a caller who gives their name and "the number ending 5678" is found by;
    # computed by the database, so no writer (services, bulk loads, COPY) can forget it.
    phone_last_four = models.GeneratedField(
        expression=Right("phone", 4),
        output_field=models.CharField(max_length=4),
        db_persist=True,
    )
    email = models.EmailField(blank=True)
    # Birth-date digits are forbidden as a card password.
    birth_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    # The language of every message the bank sends the customer.
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.CHINESE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("reveal_customer_phone", "Can reveal a customer's full phone number"),
        ]
        indexes = [
            models.Index(fields=["phone"]),
            models.Index(fields=["full_name"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def phone_masked(self) -> str:
        from accounts.pii import mask_phone

        return mask_phone(self.phone)


class Card(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LOCKED = "locked", _("Locked")
        CLOSED = "closed", _("Closed")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cards")
    product_name = models.CharField(max_length=60, default="Car-loan card")
    last_four = models.CharField(max_length=4)
    number_fingerprint = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    credit_limit = models.DecimalField(max_digits=14, decimal_places=2)
    available_limit = models.DecimalField(max_digits=14, decimal_places=2)
    # Bumped on every change of a credential kind mandates bind to (transaction
    # password, biometric, bound device); a mandate is in sync iff its
    # synced_credential_version equals this.
    credential_version = models.PositiveIntegerField(default=1)
    credential_changed_at = models.DateTimeField(null=True, blank=True)
    # Set by reconciliation when credentials changed repeatedly in a short window
    # (a fraud signal): the next staff reset needs a supervisor, who clears it.
    credential_changes_flagged_at = models.DateTimeField(null=True, blank=True)
    credential_changes_flag_reason = models.CharField(max_length=200, blank=True)
    # When a supervisor last cleared that flag: only later changes count again.
    credential_changes_reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("start_password_reset", "Can start a card password reset"),
            ("approve_locked_card_reset", "Can approve a reset for a locked or closed card"),
        ]
        indexes = [models.Index(fields=["last_four"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(credential_version__gte=1), name="card_credential_version_positive"
            ),
            models.CheckConstraint(
                condition=Q(available_limit__gte=0) & Q(available_limit__lte=F("credit_limit")),
                name="card_available_limit_within_credit_limit",
            ),
            models.CheckConstraint(
                condition=Q(last_four__regex=r"^[0-9]{4}$"), name="card_last_four_is_four_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"Card •••• {self.last_four}"

    @property
    def masked_number(self) -> str:
        return f"•••• •••• •••• {self.last_four}"

    @property
    def network_reference(self) -> str:
        """How the payment network knows this card (opaque; never the number)."""
        from accounts.pii import card_network_reference

        return card_network_reference(self.number_fingerprint)


class CredentialKind(models.TextChoices):
    """Every way a card holder proves who they are: two passwords, biometrics and a
    device bound for payment approval. Whether mandates bind to a kind is
    ``CredentialKind.binds_mandates``."""

    TRANSACTION = "transaction", _("Transaction password")
    QUERY = "query", _("Query password")
    FINGERPRINT = "fingerprint", _("Fingerprint")
    FACE = "face", _("Face")
    BOUND_DEVICE = "bound_device", _("Bound device")

    @classmethod
    def binds_mandates(cls, kind: str) -> bool:
        return kind in MANDATE_BINDING_CREDENTIAL_KINDS


# The kinds that approve payments: a mandate's gateway agreement is bound to the
# card's credential version, which every change of one of these moves. The query
# password only shows balances, so changing it binds nothing.
MANDATE_BINDING_CREDENTIAL_KINDS = frozenset(
    {
        CredentialKind.TRANSACTION,
        CredentialKind.FINGERPRINT,
        CredentialKind.FACE,
        CredentialKind.BOUND_DEVICE,
    }
)


class CardCredential(models.Model):
    """One of a card's two 6-digit passwords, stored only as a peppered argon2 hash."""

    class Kind(models.TextChoices):
        TRANSACTION = CredentialKind.TRANSACTION.value, CredentialKind.TRANSACTION.label
        QUERY = CredentialKind.QUERY.value, CredentialKind.QUERY.label

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    password_hash = models.CharField(max_length=256)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["card", "kind"], name="one_credential_per_card_and_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.card}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class CardAuthenticator(models.Model):
    """A biometric (fingerprint or face) or a bound device enrolled to approve the
    card's payments.

    The bank never holds a biometric: the enrolling device keeps the template and
    reports a reference (template id, device id), of which only a keyed
    fingerprint is stored, enough to tell a re-enrolment from the same one.
    """

    class Kind(models.TextChoices):
        FINGERPRINT = CredentialKind.FINGERPRINT.value, CredentialKind.FINGERPRINT.label
        FACE = CredentialKind.FACE.value, CredentialKind.FACE.label
        BOUND_DEVICE = CredentialKind.BOUND_DEVICE.value, CredentialKind.BOUND_DEVICE.label

    class State(models.TextChoices):
        ENROLLED = "enrolled", _("Enrolled")
        REMOVED = "removed", _("Removed")

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="authenticators")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ENROLLED)
    reference_fingerprint = models.CharField(max_length=64)
    enrolled_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["card", "kind"], name="one_authenticator_per_card_and_kind"
            ),
            models.CheckConstraint(
                condition=Q(state="enrolled", removed_at__isnull=True)
                | Q(state="removed", removed_at__isnull=False),
                name="authenticator_removed_state_has_its_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.card}"


class Channel(models.TextChoices):
    """Where a credential change or request came from."""

    STAFF_RESET = "staff_reset", _("Staff-initiated reset")
    MOBILE_APP = "mobile_app", _("Mobile app")
    ATM = "atm", _("ATM")
    BRANCH = "branch", _("Branch counter")
    CORE_BANKING = "core_banking", _("Core banking")
    SYSTEM = "system", _("System")


class PasswordChange(models.Model):
    """A record of one card credential change (password, biometric or bound device),
    for the card's timeline."""

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="password_changes")
    # Any credential kind: a biometric or device change is on the timeline too.
    kind = models.CharField(max_length=12, choices=CredentialKind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    actor = models.ForeignKey(
        "accounts.StaffUser", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The card's credential version after this change (unchanged for a query password).
    credential_version = models.PositiveIntegerField()
    reset_request = models.ForeignKey(
        "accounts.PasswordResetRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["card", "-changed_at"])]
        constraints = [
            # A reset link changes a password once, even if the page is submitted twice.
            models.UniqueConstraint(
                fields=["reset_request"],
                condition=Q(reset_request__isnull=False),
                name="one_change_per_reset_request",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} change of card {self.card_id} (v{self.credential_version})"
        )


class PasswordResetRequest(models.Model):
    """A staff-initiated reset: identity verified, a single-use link sent to the customer.

    Staff never see or choose the password; only the token's fingerprint is stored.
    """

    class VerificationMethod(models.TextChoices):
        BRANCH_ID_CHECK = "branch_id_check", _("In-branch ID check")
        SMS_OTP = "sms_otp", _("SMS one-time code to registered phone")
        VIDEO_CALL = "video_call", _("Video call")

    class DeliveryChannel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    class LinkState(models.TextChoices):
        OPEN = "open", _("Open")
        USED = "used", _("Used")
        CANCELLED = "cancelled", _("Replaced")
        EXPIRED = "expired", _("Expired")

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="reset_requests")
    kind = models.CharField(
        max_length=12,
        choices=CardCredential.Kind.choices,
        default=CardCredential.Kind.TRANSACTION,
    )
    verification_method = models.CharField(max_length=20, choices=VerificationMethod.choices)
    verification_reference = models.CharField(max_length=80)
    delivery_channel = models.CharField(
        max_length=8, choices=DeliveryChannel.choices, default=DeliveryChannel.SMS
    )
    token_fingerprint = models.CharField(max_length=64, unique=True)
    requested_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.PROTECT, related_name="+"
    )
    # A locked or closed card needs a supervisor's approval before a reset.
    approved_by = models.ForeignKey(
        "accounts.StaffUser", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["card", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="reset_expires_after_creation"
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(cancelled_at__isnull=True),
                name="reset_not_both_used_and_cancelled",
            ),
        ]

    def __str__(self) -> str:
        return f"Reset request #{self.pk} for card {self.card_id}"

    def link_state_at(self, moment) -> "PasswordResetRequest.LinkState":
        """Whether the link still works at ``moment``, and if not, why: used first, then
        replaced by a newer one, then expired (the order the customer is told)."""
        if self.used_at is not None:
            return self.LinkState.USED
        if self.cancelled_at is not None:
            return self.LinkState.CANCELLED
        if self.expires_at <= moment:
            return self.LinkState.EXPIRED
        return self.LinkState.OPEN

    @property
    def link_state(self) -> "PasswordResetRequest.LinkState":
        return self.link_state_at(timezone.now())


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only")

    def delete(self):
        raise PermissionError("Audit events are append-only")


class AuditEvent(models.Model):
    """Append-only record of who did what to which object.

    The model refuses updates and deletes; on PostgreSQL a trigger does too,
    so not even raw SQL can rewrite history.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        "accounts.StaffUser", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who acted when no staff member did: "system", "customer", "gateway".
    actor_label = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    summary = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    # What an event shows, in this order, wherever it is shown (admin, CSV export).
    SHOWN_FIELDS = (
        "occurred_at",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "summary",
        "reason",
        "request_id",
        "source_ip",
    )

    class Meta:
        permissions = [
            ("export_auditevent", "Can export audit events"),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-occurred_at"]),
            models.Index(fields=["actor", "-occurred_at"]),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only")

    @property
    def action_label(self) -> str:
        """The action in words; an action no longer in the vocabulary shows as stored."""
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it announces.

    Consumers (in ``debits``) mark it processed; a sweeper re-dispatches any
    event no worker finished, so a lost broker message is never a lost change.
    """

    class Type(models.TextChoices):
        CREDENTIAL_CHANGED = "card.credential_changed", _("Card credential changed")

    event_type = models.CharField(max_length=60, choices=Type.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(processed_at__isnull=True),
                name="outbox_unprocessed_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk}"


class CustomerNotice(models.Model):
    """A message to a customer, written in the same transaction as what it announces.

    The table is the notices' outbox: committed, a notice is handed to the
    sending task; the sweeper re-dispatches every one no worker sent (broker
    down, worker lost). ``dedup_key`` names the change it announces, so one
    change sends one notice however many mandates or retries it touches.
    """

    DISPATCH_TYPE = "customer.notice"  # its sending task in settings.OUTBOX_CONSUMER_TASKS

    class Topic(models.TextChoices):
        PASSWORD_CHANGED = "password_changed", "Password changed"
        MANDATES_REBOUND = "mandates_rebound", "Automatic repayments re-bound"
        DEBIT_FAILED = "debit_failed", "Debit failed"
        COMPLAINT_ACKNOWLEDGED = "complaint_acknowledged", "Complaint acknowledged"
        COMPLAINT_EXTENDED = "complaint_extended", "Complaint deadline extended"
        COMPLAINT_DECIDED = "complaint_decided", "Complaint decided"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="notices")
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    topic = models.CharField(max_length=30, choices=Topic.choices)
    language = models.CharField(max_length=8, choices=Language.choices)
    channel = models.CharField(max_length=8, default="sms")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    dedup_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["card", "-created_at"]),
            models.Index(fields=["customer", "-created_at"]),
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="customer_notice_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_topic_display()} to customer {self.customer_id}"


# Second-factor devices and staff access changes live in their own modules;
# importing them here registers them.
from accounts.second_factor_devices import (  # noqa: E402, F401
    AuthenticatorDevice,
    BackupCode,
    BackupCodeDevice,
)
from accounts.staff_access_models import (  # noqa: E402, F401
    BreakGlassGrant,
    StaffChangeRequest,
    StaffPasswordReset,
)

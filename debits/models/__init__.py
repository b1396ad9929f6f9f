"""Loans and instalments, mandates and their re-syncs, debit runs and attempts.

The invariants that keep money right live here as database constraints:
one succeeded attempt per instalment, one in-flight attempt per instalment,
unique idempotency keys, one live mandate per loan, one late fee per instalment.
Operations' own rows (alerts, worker heartbeats, hourly snapshots, reconciliation
passes) are in ``debits.models.operations``; this package exports them all.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Card

MONEY = {"max_digits": 14, "decimal_places": 2}


class Loan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SETTLED = "settled", _("Settled")
        WRITTEN_OFF = "written_off", _("Written off")

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="loans")
    reference = models.CharField(max_length=24, unique=True)
    vehicle = models.CharField(max_length=80, blank=True)
    principal = models.DecimalField(**MONEY)
    # Nominal annual rate as a fraction: 0.0480 is 4.80 % a year.
    annual_rate = models.DecimalField(max_digits=7, decimal_places=6)
    term_months = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(
                condition=Q(annual_rate__gte=0) & Q(annual_rate__lt=1),
                name="loan_rate_is_a_fraction",
            ),
            models.CheckConstraint(
                condition=Q(term_months__gte=1) & Q(term_months__lte=360),
                name="loan_term_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class Instalment(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        DUE = "due", _("Due")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")
        SETTLED_LATE = "settled_late", _("Settled late")

    OPEN_STATES = (State.SCHEDULED, State.DUE, State.OVERDUE)

    # Served by one_instalment_per_sequence: no index of its own (migration 0018).
    loan = models.ForeignKey(Loan, models.PROTECT, related_name="instalments", db_index=False)
    sequence = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    principal_part = models.DecimalField(**MONEY)
    interest_part = models.DecimalField(**MONEY)
    amount_due = models.DecimalField(**MONEY)
    amount_paid = models.DecimalField(**MONEY, default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.SCHEDULED)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["loan_id", "sequence"]
        indexes = [
            # The debit run's selection: open instalments by due date.
            models.Index(
                fields=["due_date"],
                condition=Q(state__in=["scheduled", "due", "overdue"]),
                name="instalment_open_by_due_idx",
            ),
            # The run's keyset pages: open instalments in id order, the due date
            # beside the id so that rows due later are passed over in the index.
            models.Index(
                fields=["id"],
                include=["due_date"],
                condition=Q(state__in=["scheduled", "due", "overdue"]),
                name="instalment_open_keyset_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "sequence"], name="one_instalment_per_sequence"
            ),
            models.CheckConstraint(
                # Rounded to the cent because SQLite adds decimals as binary floats
                # (9800.10 + 480.20 is not 10280.30 there); exact on PostgreSQL.
                condition=Exact(
                    Round(F("amount_due") - F("principal_part") - F("interest_part"), 2), 0
                ),
                name="instalment_due_is_principal_plus_interest",
            ),
            models.CheckConstraint(
                condition=Q(amount_due__gt=0), name="instalment_amount_due_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0) & Q(amount_paid__lte=F("amount_due")),
                name="instalment_paid_within_due",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["paid", "settled_late"]) | Q(amount_paid=F("amount_due")),
                name="instalment_paid_state_means_paid_in_full",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loan.reference} #{self.sequence}"

    @property
    def amount_outstanding(self):
        return self.amount_due - self.amount_paid


# The one spelling of "in sync" for queries; ``Mandate.is_in_sync_with`` is its twin
# for a loaded row. Equality, not ``>=``: re-sync binds the version it reads from
# the card and credential versions only grow, so a mandate is never ahead of its
# card; were a row ever to claim so, the agreement the network holds would still
# not be bound to the card's credential, and that is out of sync.
_IN_SYNC = Q(synced_credential_version=F("card__credential_version"))


class MandateQuerySet(models.QuerySet):
    def in_sync(self) -> "MandateQuerySet":
        """Mandates whose agreement is bound to their card's current credential version."""
        return self.filter(_IN_SYNC)

    def out_of_sync(self) -> "MandateQuerySet":
        """Mandates whose agreement is bound to another version than their card's."""
        return self.exclude(_IN_SYNC)

    def with_sync_state(self) -> "MandateQuerySet":
        """Each row annotated ``synced_with_card`` (bool), for reads that need both kinds."""
        return self.annotate(
            synced_with_card=models.ExpressionWrapper(_IN_SYNC, output_field=models.BooleanField())
        )


class Mandate(models.Model):
    """The customer's authorisation to collect a loan's instalments from an account.

    In sync iff ``synced_credential_version == card.credential_version``: sync
    state is derived from versions, never a flag someone must remember to flip.
    Ask ``Mandate.objects.in_sync()`` / ``out_of_sync()`` or ``is_in_sync``;
    never compare the versions yourself.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class Cycle(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")

    LIVE_STATES = (State.PENDING, State.ACTIVE, State.SUSPENDED)

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="mandates")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="mandates")
    reference = models.CharField(max_length=32, unique=True)
    # Authorisation terms every debit is checked against (PBoC collection rules).
    payee = models.CharField(max_length=80)
    purpose = models.CharField(max_length=120)
    settlement_account_masked = models.CharField(max_length=32)
    settlement_account_fingerprint = models.CharField(max_length=64)
    cycle = models.CharField(max_length=10, choices=Cycle.choices, default=Cycle.MONTHLY)
    valid_from = models.DateField()
    valid_until = models.DateField()
    per_debit_cap = models.DecimalField(**MONEY)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    gateway_agreement_token = models.CharField(max_length=80, blank=True)
    synced_credential_version = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Set when re-sync retries ran out; cleared by the next successful re-sync.
    sync_failed_at = models.DateTimeField(null=True, blank=True)
    sync_failure_reason = models.CharField(max_length=200, blank=True)
    state_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MandateQuerySet.as_manager()

    class Meta:
        permissions = [
            ("resync_mandate", "Can re-sync a mandate now"),
            ("pause_collection", "Can pause and resume collection"),
        ]
        indexes = [
            models.Index(fields=["card", "state"]),
            # Each recently changed card's active mandate and its synced version from the
            # index alone: the dashboard's live out-of-sync count, one probe per card.
            models.Index(
                fields=["card"],
                include=["synced_credential_version"],
                condition=Q(state="active"),
                name="mandate_active_sync_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"],
                condition=Q(state__in=["pending", "active", "suspended"]),
                name="one_live_mandate_per_loan",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("valid_from")), name="mandate_validity_ordered"
            ),
            models.CheckConstraint(condition=Q(per_debit_cap__gt=0), name="mandate_cap_positive"),
        ]

    def __str__(self) -> str:
        return self.reference

    def is_in_sync_with(self, card: Card) -> bool:
        """In sync with this card row (the mandate's own, already loaded)."""
        return self.synced_credential_version == card.credential_version

    @property
    def is_in_sync(self) -> bool:
        return self.is_in_sync_with(self.card)


class MandateSync(models.Model):
    """One attempt to bind a mandate's gateway agreement to a credential version."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        ALREADY_IN_SYNC = "already_in_sync", _("Already in sync")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        CREDENTIAL_CHANGE = "credential_change", _("Credential change")
        SWEEPER = "sweeper", _("Outbox sweeper")
        PREFLIGHT = "preflight", _("Debit pre-flight")
        MANUAL = "manual", _("Staff request")
        RECONCILIATION = "reconciliation", _("Reconciliation")

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="syncs")
    target_credential_version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["mandate", "-requested_at"])]

    def __str__(self) -> str:
        return f"Sync of mandate {self.mandate_id} to v{self.target_credential_version}"


class DebitRun(models.Model):
    class Kind(models.TextChoices):
        # "Scheduled" is also an instalment's state; a context keeps the two apart.
        SCHEDULED = "scheduled", pgettext_lazy("debit run kind", "Scheduled")
        RETRY = "retry", _("Intraday retry")
        MANUAL = "manual", _("Manual")

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    run_date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SCHEDULED)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    dry_run = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress counters, bumped with F() by the chunk tasks as they finish.
    selected_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # Set when the selection has recorded its last chunk: chunks are collected while
    # it still pages through the book, so until then chunks_total is still growing
    # and the run cannot complete.
    selection_finished_at = models.DateTimeField(null=True, blank=True)
    # Where the selection has got to, for the run sweeper: the highest instalment id
    # its pages have read through, and when it last recorded a page. A selection
    # silent for DEBIT_RUN_SELECTION_STALE_SECONDS is taken over by the sweeper; a
    # page recorded by a selection that no longer owns the cursor is refused.
    selection_cursor = models.BigIntegerField(default=0)
    selection_progress_at = models.DateTimeField(null=True, blank=True)
    succeeded_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0)

    class Meta:
        permissions = [
            ("start_debit_run", "Can start a manual debit run"),
            ("view_operations_dashboard", "Can open the operations dashboard"),
            (
                "use_emergency_controls",
                "Can pause or resume all debits, re-sync every stale mandate, re-run a run",
            ),
        ]
        ordering = ["-started_at", "-id"]
        constraints = [
            # The scheduled run of a day happens once, however often beat fires.
            models.UniqueConstraint(
                fields=["run_date"],
                condition=Q(kind="scheduled", dry_run=False),
                name="one_scheduled_run_per_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run {self.run_date}"


class DebitAttempt(models.Model):
    class State(models.TextChoices):
        CREATED = "created", _("Created")
        SUBMITTED = "submitted", _("Submitted")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    IN_FLIGHT_STATES = (State.CREATED, State.SUBMITTED, State.UNKNOWN)

    # Instalment and run: served by one_attempt_per_number and (run, state) (migration 0018).
    instalment = models.ForeignKey(
        Instalment, models.PROTECT, related_name="attempts", db_index=False
    )
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="attempts")
    run = models.ForeignKey(
        DebitRun, models.PROTECT, null=True, blank=True, related_name="attempts", db_index=False
    )
    attempt_number = models.PositiveSmallIntegerField()
    # Deterministic (instalment + attempt number): a retried task re-presents the
    # same key, so the gateway returns the first result instead of paying twice.
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.DecimalField(**MONEY)
    # The credential version the mandate's agreement was bound to when this debit
    # was presented (the mandate's synced version then, not the card's).
    presented_credential_version = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATED)
    failure_code = models.CharField(max_length=40, blank=True)
    raw_failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    gateway_reference = models.CharField(max_length=80, blank=True)
    next_retry_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when a janitor claims the attempt to ask the network about it, so a
    # second janitor running at the same time asks about other keys.
    janitor_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("retry_debit_attempt", "Can retry failed debit attempts"),
            ("export_debitattempt", "Can export debit attempts"),
        ]
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-created_at"]),
            models.Index(fields=["run", "state"]),
            models.Index(fields=["failure_code", "-created_at"]),
            # DebitDayFigures' counts and /metrics' last 24 h by state, from the index alone.
            models.Index(
                fields=["created_at"],
                include=["id", "state", "failure_code"],
                name="attempt_created_state_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["instalment", "attempt_number"], name="one_attempt_per_number"
            ),
            models.UniqueConstraint(
                fields=["instalment"],
                condition=Q(state="succeeded"),
                name="one_succeeded_attempt_per_instalment",
            ),
            models.UniqueConstraint(
                fields=["instalment"],
                condition=Q(state__in=["created", "submitted", "unknown"]),
                name="one_in_flight_attempt_per_instalment",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="attempt_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key

    @property
    def can_be_retried(self) -> bool:
        """Staff may retry a failed attempt; an unknown one settles first (never paid twice)."""
        return self.state == self.State.FAILED


class DebitRunChunk(models.Model):
    """A run's work, recorded in the database before any message is sent: which
    instalments this chunk collects. The broker may lose the message (a restart
    with its data gone, a worker killed before taking it); the run sweeper then
    sends the chunk again, so the run completes however many messages were lost."""

    run = models.ForeignKey(DebitRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    instalment_ids = models.JSONField()
    honour_retry_schedule = models.BooleanField(default=True)
    dispatched_at = models.DateTimeField(default=timezone.now)
    dispatches = models.PositiveSmallIntegerField(default=1)
    # Set once, by the delivery that collected the whole chunk.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="one_chunk_per_run_number")
        ]
        indexes = [
            # The sweeper's question: unfinished chunks sent longest ago.
            models.Index(
                fields=["dispatched_at"],
                condition=Q(finished_at__isnull=True),
                name="run_chunk_unfinished_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Chunk {self.number} of run {self.run_id}"


class SkippedInstalment(models.Model):
    """An instalment a run selected but did not collect, and why: never silently dropped."""

    run = models.ForeignKey(DebitRun, on_delete=models.CASCADE, related_name="skips")
    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="skips")
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "instalment"], name="one_skip_per_run_instalment"
            )
        ]

    def __str__(self) -> str:
        return f"Instalment {self.instalment_id} skipped: {self.reason}"


class LateFee(models.Model):
    class State(models.TextChoices):
        ACCRUED = "accrued", _("Accrued")
        WAIVER_PENDING = "waiver_pending", _("Waiver awaiting approval")
        WAIVED = "waived", _("Waived")

    instalment = models.OneToOneField(Instalment, on_delete=models.PROTECT, related_name="late_fee")
    amount = models.DecimalField(**MONEY)
    accrued_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACCRUED)
    # Why the instalment was late; bank-side causes are waived automatically.
    cause = models.CharField(max_length=40, blank=True)
    waiver_reason = models.CharField(max_length=300, blank=True)
    waiver_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waiver_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("waive_late_fee", "Can waive a late fee"),
            ("approve_fee_waiver", "Can approve a fee waiver above the threshold"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="late_fee_positive"),
        ]

    def __str__(self) -> str:
        return f"Late fee {self.amount} on instalment {self.instalment_id} ({self.state})"

    @property
    def can_be_waived(self) -> bool:
        """An accrued fee may be waived (at once, or pending a supervisor above the
        threshold); one waived or awaiting approval may not be waived again."""
        return self.state == self.State.ACCRUED

    @property
    def can_be_approved(self) -> bool:
        """Only a waiver awaiting a supervisor can be approved."""
        return self.state == self.State.WAIVER_PENDING


class CollectionPause(models.Model):
    """Operations stopping collection for the whole book, one card or one mandate."""

    class Scope(models.TextChoices):
        BOOK = "book", _("Whole book")
        CARD = "card", _("Card")
        MANDATE = "mandate", _("Mandate")

    scope = models.CharField(max_length=8, choices=Scope.choices)
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="collection_pauses"
    )
    mandate = models.ForeignKey(
        Mandate, null=True, blank=True, on_delete=models.PROTECT, related_name="collection_pauses"
    )
    reason = models.CharField(max_length=300)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    paused_at = models.DateTimeField(default=timezone.now)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="book", card__isnull=True, mandate__isnull=True)
                    | Q(scope="card", card__isnull=False, mandate__isnull=True)
                    | Q(scope="mandate", card__isnull=True, mandate__isnull=False)
                ),
                name="pause_target_matches_scope",
            ),
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(scope="book", resumed_at__isnull=True),
                name="one_open_book_pause",
            ),
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(scope="card", resumed_at__isnull=True),
                name="one_open_pause_per_card",
            ),
            models.UniqueConstraint(
                fields=["mandate"],
                condition=Q(scope="mandate", resumed_at__isnull=True),
                name="one_open_pause_per_mandate",
            ),
        ]

    def __str__(self) -> str:
        return f"Pause of {self.get_scope_display()} since {self.paused_at:%Y-%m-%d}"


# Imported last: they refer to the models above.
from debits.models.operations import (  # noqa: E402
    Alert,
    DebitDayFigures,
    OperationsSnapshot,
    ReconciliationPass,
    WorkerHeartbeat,
)

__all__ = [
    "Alert",
    "CollectionPause",
    "DebitAttempt",
    "DebitDayFigures",
    "DebitRun",
    "DebitRunChunk",
    "Instalment",
    "LateFee",
    "Loan",
    "Mandate",
    "MandateQuerySet",
    "MandateSync",
    "OperationsSnapshot",
    "ReconciliationPass",
    "SkippedInstalment",
    "WorkerHeartbeat",
]

"""Operations' own rows: alerts to look at, worker heartbeats, hourly snapshots
for the dashboard's charts, and the counters of a reconciliation pass."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Card
from debits.labels import value_in_words


class Alert(models.Model):
    """Something operations must look at: raised where a job cannot repair it itself."""

    class Kind(models.TextChoices):
        RESYNC_FAILED = "resync_failed", _("Re-sync failed after retries")
        MANDATE_FAILED = "mandate_failed", _("Mandate failed (final debit outcome)")
        OUTBOX_STUCK = "outbox_stuck", _("Outbox event stuck")
        MANDATE_DRIFT = "mandate_drift", _("Mandate out of sync too long")
        UNKNOWN_ATTEMPTS = "unknown_attempts", _("Debit attempts with unknown outcome")
        FAILURE_RATE = "failure_rate", _("Failure rate above baseline")
        REPEATED_PASSWORD_CHANGES = "repeated_password_changes", _("Repeated password changes")
        DEBIT_RUN_STUCK = "debit_run_stuck", _("Debit run stopped making progress")

    class Severity(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    # Identifies the condition (e.g. "resync_failed:mandate:42"), so raising it again
    # while it is still open updates the same alert instead of adding another.
    dedup_key = models.CharField(max_length=120)
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    mandate = models.ForeignKey(
        "debits.Mandate", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    # In English, as raised: what the mail, the audit trail and a search read.
    message = models.CharField(max_length=300)
    # The message's catalogue entry and its values, so each reader sees it in their
    # own language (``translated_message``); blank on alerts raised before there was one.
    message_template = models.CharField(max_length=300, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    # First seen: when this open condition was raised; last_seen_at and occurrences
    # move each time a detector finds it again.
    raised_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    occurrences = models.PositiveIntegerField(default=1)
    # A person took it on; the alert stays open until the condition clears or
    # someone resolves it with a note.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Null with resolved_at set: resolved by the system because the condition cleared.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [
            models.Index(
                fields=["kind", "severity"],
                condition=Q(resolved_at__isnull=True),
                name="alert_open_by_kind_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_alert_per_condition",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | Q(acknowledged_by__isnull=False),
                name="alert_acknowledged_by_a_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def translated_message(self) -> str:
        """The message in the active language; the English one as raised when there is
        no template or a translation does not fit its values."""
        if not self.message_template:
            return self.message
        words = {key: value_in_words(value) for key, value in self.message_params.items()}
        try:
            return gettext(self.message_template) % words
        except (KeyError, TypeError, ValueError):
            return self.message


class WorkerHeartbeat(models.Model):
    """When a worker consuming ``queue`` last ran the heartbeat task beat sends it.

    A fresh row proves a worker takes work from that queue; its age is what
    /readyz and /metrics report.
    """

    queue = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue} @ {self.beat_at:%H:%M:%S}"


class OperationsSnapshot(models.Model):
    """Hourly figures that history cannot give back later (how many mandates were out
    of sync at 3 a.m.), for the dashboard's charts over the last 30 days."""

    # Truncated to the hour: a snapshot taken again within the hour replaces it.
    hour = models.DateTimeField(unique=True)
    taken_at = models.DateTimeField(default=timezone.now)
    out_of_sync_mandates = models.PositiveIntegerField(default=0)
    outbox_backlog = models.PositiveIntegerField(default=0)
    open_alerts = models.PositiveIntegerField(default=0)
    # The landing page's whole-book counts (seconds on a million-card book, so hourly).
    # Null in snapshots taken before they were kept.
    active_mandates = models.PositiveIntegerField(null=True, blank=True)
    due_instalments = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["hour"]

    def __str__(self) -> str:
        return f"Snapshot {self.hour:%Y-%m-%d %H:00}"


class DebitDayFigures(models.Model):
    """How many attempts made on ``day`` ended in ``state`` (and ``failure_code``): the
    dashboard's 30 days of collections, read from these few rows instead of every
    attempt (a million a month-end). The hourly snapshot recounts today and yesterday
    (a janitor settles yesterday's unknown attempts today) and any day of the window
    still missing; older days no longer change."""

    day = models.DateField()
    state = models.CharField(max_length=10)
    failure_code = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveIntegerField()
    counted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "state", "failure_code"], name="one_figure_per_day_state_code"
            )
        ]
        verbose_name_plural = "debit day figures"

    def __str__(self) -> str:
        return f"{self.day}: {self.attempts} {self.state} {self.failure_code}".strip()


class ReconciliationPass(models.Model):
    """One full pass of a fanned-out detector (mandates against the network's
    agreements): its chunks' counters, bumped with F() as they finish."""

    detector = models.CharField(max_length=32)
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    checked = models.PositiveIntegerField(default=0)
    mismatched = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    unrepaired = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.detector} pass {self.started_at:%Y-%m-%d %H:%M}"

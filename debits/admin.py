"""Django admin for loans, instalments, mandates, debit runs and attempts, fees,
pauses and alerts.

Money and mandates change only through business actions (services), so these
pages are for looking things up; actions that call services are added here.
Search takes a reference, or anything that finds the card: a customer's name,
phone, card last four, full card number or national id (through fingerprints).
"""

from django.contrib import admin

from accounts.admin import SEARCH_HELP, CardSearchMixin, ViewOnlyAdmin, ViewOnlyInline
from debits.admin_actions import (
    MandateResyncAdminMixin,
    PauseCollectionAdminMixin,
    RetryDebitAttemptsAdminMixin,
    pause_mandates_action,
    resume_pauses_action,
)
from debits.models import (
    Alert,
    CollectionPause,
    DebitAttempt,
    DebitDayFigures,
    DebitRun,
    DebitRunChunk,
    Instalment,
    LateFee,
    Loan,
    Mandate,
    MandateSync,
    OperationsSnapshot,
    ReconciliationPass,
    SkippedInstalment,
    WorkerHeartbeat,
)


class InstalmentInline(ViewOnlyInline):
    model = Instalment
    fields = (
        "sequence",
        "due_date",
        "principal_part",
        "interest_part",
        "amount_due",
        "amount_paid",
        "state",
        "paid_at",
    )
    readonly_fields = fields


class MandateInline(ViewOnlyInline):
    model = Mandate
    fields = ("reference", "state", "synced_credential_version", "synced_at", "valid_until")
    readonly_fields = fields


@admin.register(Loan)
class LoanAdmin(CardSearchMixin, ViewOnlyAdmin):
    list_display = (
        "reference",
        "customer_name",
        "card",
        "vehicle",
        "principal",
        "annual_rate",
        "term_months",
        "start_date",
        "status",
    )
    list_filter = ("status", "term_months")
    list_select_related = ("card__customer",)
    date_hierarchy = "start_date"
    search_fields = ("reference", "vehicle")
    search_help_text = f"Loan reference, vehicle. {SEARCH_HELP}"
    inlines = (MandateInline, InstalmentInline)

    @admin.display(description="Customer", ordering="card__customer__full_name")
    def customer_name(self, obj: Loan) -> str:
        return obj.card.customer.full_name


@admin.register(Instalment)
class InstalmentAdmin(CardSearchMixin, ViewOnlyAdmin):
    card_lookup = "loan__card"
    list_display = (
        "__str__",
        "due_date",
        "amount_due",
        "amount_paid",
        "state",
        "paid_at",
    )
    list_filter = ("state",)
    list_select_related = ("loan",)
    date_hierarchy = "due_date"
    search_fields = ("loan__reference",)
    search_help_text = f"Loan reference. {SEARCH_HELP}"


class MandateSyncInline(ViewOnlyInline):
    model = MandateSync
    fields = (
        "requested_at",
        "target_credential_version",
        "trigger",
        "outcome",
        "error_code",
        "latency_ms",
    )
    readonly_fields = fields


@admin.register(Mandate)
class MandateAdmin(
    MandateResyncAdminMixin, PauseCollectionAdminMixin, CardSearchMixin, ViewOnlyAdmin
):
    actions = (*MandateResyncAdminMixin.actions, pause_mandates_action)
    # The settlement account's fingerprint is never shown.
    exclude = ("settlement_account_fingerprint",)
    list_display = (
        "reference",
        "loan",
        "card",
        "state",
        "synced_credential_version",
        "card_credential_version",
        "in_sync",
        "synced_at",
        "valid_until",
    )
    list_filter = ("state", ("sync_failed_at", admin.EmptyFieldListFilter))
    list_select_related = ("loan", "card")
    date_hierarchy = "created_at"
    search_fields = ("reference", "loan__reference", "gateway_agreement_token")
    search_help_text = f"Mandate or loan reference, agreement token. {SEARCH_HELP}"
    show_full_result_count = False
    inlines = (MandateSyncInline,)

    @admin.display(description="Card version")
    def card_credential_version(self, obj: Mandate) -> int:
        return obj.card.credential_version

    @admin.display(boolean=True, description="In sync")
    def in_sync(self, obj: Mandate) -> bool:
        return obj.is_in_sync


@admin.register(MandateSync)
class MandateSyncAdmin(CardSearchMixin, ViewOnlyAdmin):
    card_lookup = "mandate__card"
    list_display = (
        "requested_at",
        "mandate",
        "target_credential_version",
        "trigger",
        "outcome",
        "error_code",
        "latency_ms",
        "requested_by",
        "finished_at",
    )
    list_filter = ("outcome", "trigger", "error_code")
    list_select_related = ("mandate", "requested_by")
    date_hierarchy = "requested_at"
    search_fields = ("mandate__reference",)
    search_help_text = f"Mandate reference. {SEARCH_HELP}"


class SkippedInstalmentInline(ViewOnlyInline):
    model = SkippedInstalment
    fields = ("instalment", "reason", "detail", "created_at")
    readonly_fields = fields


@admin.register(DebitRun)
class DebitRunAdmin(ViewOnlyAdmin):
    list_display = (
        "run_date",
        "kind",
        "state",
        "dry_run",
        "requested_by",
        "started_at",
        "finished_at",
        "selected_count",
        "skipped_count",
        "chunks_done",
        "chunks_total",
        "succeeded_count",
        "failed_count",
        "unknown_count",
    )
    list_filter = ("kind", "state", "dry_run")
    list_select_related = ("requested_by",)
    date_hierarchy = "run_date"
    search_fields = ("=id", "requested_by__username")


@admin.register(DebitAttempt)
class DebitAttemptAdmin(RetryDebitAttemptsAdminMixin, CardSearchMixin, ViewOnlyAdmin):
    card_lookup = "mandate__card"
    list_display = (
        "idempotency_key",
        "instalment",
        "mandate",
        "run",
        "attempt_number",
        "amount",
        "presented_credential_version",
        "state",
        "failure_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("state", "failure_code")
    list_select_related = ("instalment__loan", "mandate", "run")
    date_hierarchy = "created_at"
    search_fields = ("idempotency_key", "gateway_reference", "mandate__reference")
    search_help_text = f"Idempotency key, gateway or mandate reference. {SEARCH_HELP}"
    raw_id_fields = ("instalment", "mandate", "run")


@admin.register(SkippedInstalment)
class SkippedInstalmentAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "run", "instalment", "reason", "detail")
    list_filter = ("reason",)
    list_select_related = ("run", "instalment__loan")
    date_hierarchy = "created_at"
    search_fields = ("instalment__loan__reference", "reason")


@admin.register(LateFee)
class LateFeeAdmin(CardSearchMixin, ViewOnlyAdmin):
    card_lookup = "instalment__loan__card"
    list_display = (
        "instalment",
        "amount",
        "state",
        "cause",
        "accrued_at",
        "waiver_requested_by",
        "waiver_approved_by",
        "waived_at",
    )
    list_filter = ("state", "cause")
    list_select_related = (
        "instalment__loan",
        "waiver_requested_by",
        "waiver_approved_by",
    )
    date_hierarchy = "accrued_at"
    search_fields = ("instalment__loan__reference",)
    search_help_text = f"Loan reference. {SEARCH_HELP}"


@admin.register(CollectionPause)
class CollectionPauseAdmin(PauseCollectionAdminMixin, ViewOnlyAdmin):
    actions = (resume_pauses_action,)
    list_display = (
        "scope",
        "card",
        "mandate",
        "reason",
        "paused_by",
        "paused_at",
        "resumed_by",
        "resumed_at",
    )
    list_filter = ("scope", ("resumed_at", admin.EmptyFieldListFilter))
    list_select_related = ("card", "mandate", "paused_by", "resumed_by")
    date_hierarchy = "paused_at"
    search_fields = ("reason", "mandate__reference", "card__last_four")


@admin.register(Alert)
class AlertAdmin(ViewOnlyAdmin):
    list_display = (
        "last_seen_at",
        "kind",
        "severity",
        "message",
        "card",
        "mandate",
        "occurrences",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
    )
    list_filter = ("kind", "severity", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("card", "mandate", "acknowledged_by", "resolved_by")
    date_hierarchy = "raised_at"
    search_fields = ("message", "dedup_key", "mandate__reference", "card__last_four")


# --- Operations' own records: written by jobs, read here, never edited ------------------


@admin.register(DebitRunChunk)
class DebitRunChunkAdmin(ViewOnlyAdmin):
    list_display = ("run", "number", "dispatched_at", "dispatches", "finished_at")
    list_filter = (("finished_at", admin.EmptyFieldListFilter),)
    list_select_related = ("run",)
    exclude = ("instalment_ids",)


@admin.register(ReconciliationPass)
class ReconciliationPassAdmin(ViewOnlyAdmin):
    list_display = (
        "started_at",
        "detector",
        "finished_at",
        "chunks_done",
        "chunks_total",
        "checked",
        "mismatched",
        "repaired",
        "unrepaired",
    )
    list_filter = ("detector",)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ViewOnlyAdmin):
    list_display = ("queue", "hostname", "beat_at")


@admin.register(OperationsSnapshot)
class OperationsSnapshotAdmin(ViewOnlyAdmin):
    list_display = (
        "hour",
        "out_of_sync_mandates",
        "outbox_backlog",
        "open_alerts",
        "active_mandates",
        "due_instalments",
        "taken_at",
    )
    date_hierarchy = "hour"


@admin.register(DebitDayFigures)
class DebitDayFiguresAdmin(ViewOnlyAdmin):
    list_display = ("day", "state", "failure_code", "attempts", "counted_at")
    list_filter = ("state",)
    date_hierarchy = "day"

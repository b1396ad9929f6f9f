"""Staff pages of the debit engine: runs and their live progress, failed and unknown
attempts (retry, export), manual runs, collection pauses, fee waivers.

Thin: parse, call one service, render or redirect. Every page declares its permission.
"""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import AuditAction, record_audit_event
from backoffice.collection.filters import UnresolvedAttemptFilter
from backoffice.collection.forms import ManualRunForm, PauseForm
from backoffice.permissions import staff_permission_required
from backoffice.ui.csv_export import local_timestamp, streaming_csv_response
from backoffice.ui.labels import code_label
from backoffice.ui.listing import (
    applied_filters,
    filtered_page,
    filtered_rows,
    filters_are_invalid,
)
from backoffice.ui.service_errors import translated
from debits.forms import ReasonForm
from debits.models import CollectionPause, DebitAttempt, DebitRun, LateFee
from debits.selectors import (
    debit_run_progress,
    open_collection_pauses,
    recent_collection_pauses,
    recent_debit_runs,
    unresolved_debit_attempts,
)
from debits.services import (
    CollectionControlError,
    DebitRunError,
    FeeWaiverError,
    approve_fee_waiver,
    pause_collection,
    resume_collection,
    retry_debit_attempts,
    run_debit_job,
    waive_late_fee,
)

ATTEMPTS_PER_PAGE = 50


@staff_permission_required("debits.view_debitrun")
def run_list(request):
    return render(request, "backoffice/collection/run_list.html", {"runs": recent_debit_runs()})


@staff_permission_required("debits.view_debitrun")
def run_detail(request, pk: int):
    get_object_or_404(DebitRun, pk=pk)
    return render(request, "backoffice/collection/run_detail.html", debit_run_progress(pk))


@staff_permission_required("debits.view_debitrun")
def run_progress(request, pk: int):
    get_object_or_404(DebitRun, pk=pk)
    progress = debit_run_progress(pk)
    run = progress["run"]
    return JsonResponse(
        {
            "state": run.state,
            "state_display": run.get_state_display(),
            "percent": progress["percent"],
            "chunks_done": run.chunks_done,
            "chunks_total": run.chunks_total,
            "selected": run.selected_count,
            "skipped": run.skipped_count,
            "attempts_by_state": progress["attempts_by_state"],
            "failures_by_code": dict(progress["failures_by_code"]),
            "skips_by_reason": dict(progress["skips_by_reason"]),
            # What the page shows for each code, in the viewer's language.
            "labels": {
                **{
                    code: code_label(code, "failure_code")
                    for code, _n in progress["failures_by_code"]
                },
                **{
                    code: code_label(code, "skip_reason")
                    for code, _n in progress["skips_by_reason"]
                },
            },
        }
    )


@staff_permission_required("debits.start_debit_run")
def start_run(request):
    form = ManualRunForm(
        request.POST or None, initial={"run_date": timezone.localdate().isoformat()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            run = run_debit_job(
                on_date=form.cleaned_data["run_date"],
                kind=DebitRun.Kind.MANUAL,
                actor=request.user,
                dry_run=form.cleaned_data["dry_run"],
            )
        except DebitRunError as exc:
            form.add_error(None, translated(exc))
        else:
            messages.success(
                request,
                _("Run #%(run)d started: %(selected)d to collect, %(skipped)d skipped.")
                % {"run": run.pk, "selected": run.selected_count, "skipped": run.skipped_count},
            )
            return redirect("collection:run_detail", pk=run.pk)
    return render(request, "backoffice/collection/run_form.html", {"form": form})


def _filtered_attempts(request) -> UnresolvedAttemptFilter:
    return UnresolvedAttemptFilter(request.GET or None, queryset=unresolved_debit_attempts())


def _attempt_page(request, filterset, *, status: int = 200):
    return render(
        request,
        "backoffice/collection/attempt_list.html",
        {
            **filtered_page(request, filterset, ATTEMPTS_PER_PAGE),
            "can_retry": request.user.has_perm("debits.retry_debit_attempt"),
            "can_export": request.user.has_perm("debits.export_debitattempt"),
        },
        status=status,
    )


@staff_permission_required("debits.view_debitattempt")
def attempt_list(request):
    return _attempt_page(request, _filtered_attempts(request))


@require_POST
@staff_permission_required("debits.retry_debit_attempt")
def retry_attempts(request):
    ids = [int(v) for v in request.POST.getlist("attempt") if v.isdigit()]
    attempts = DebitAttempt.objects.filter(pk__in=ids)
    if not ids:
        messages.error(request, _("Select at least one attempt to retry."))
        return redirect("collection:attempt_list")
    try:
        run = retry_debit_attempts(attempts=attempts, actor=request.user)
    except DebitRunError as exc:
        messages.error(request, translated(exc))
        return redirect("collection:attempt_list")
    messages.success(
        request,
        _("Retry run #%(run)d: %(selected)d instalment(s) to collect, %(skipped)d skipped.")
        % {"run": run.pk, "selected": run.selected_count, "skipped": run.skipped_count},
    )
    return redirect("collection:run_detail", pk=run.pk)


EXPORT_HEADER = [
    "attempt",
    "idempotency_key",
    "run",
    "loan",
    "instalment",
    "due_date",
    "mandate",
    "card",
    "amount",
    "state",
    "failure_code",
    "raw_failure_code",
    "next_retry_on",
    "created_at",
    "finished_at",
]


@staff_permission_required("debits.view_debitattempt", "debits.export_debitattempt")
def attempt_export(request):
    """Failed and unknown attempts as CSV: references and masked card only, no names."""
    filterset = _filtered_attempts(request)
    if filters_are_invalid(filterset):
        return _attempt_page(request, filterset, status=400)
    record_audit_event(
        actor=request.user,
        action=AuditAction.DEBIT_ATTEMPT_EXPORTED,
        object_type="debits.debitattempt",
        summary={"filters": applied_filters(filterset)},
    )
    rows = (
        (
            a.pk,
            a.idempotency_key,
            a.run_id,
            a.instalment.loan.reference,
            a.instalment.sequence,
            a.instalment.due_date,
            a.mandate.reference,
            a.mandate.card.masked_number,
            a.amount,
            a.state,
            a.failure_code,
            a.raw_failure_code,
            a.next_retry_on,
            local_timestamp(a.created_at),
            local_timestamp(a.finished_at),
        )
        for a in filtered_rows(filterset).iterator(chunk_size=2000)
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return streaming_csv_response(
        header=EXPORT_HEADER, rows=rows, filename=f"debit-attempts-{stamp}.csv"
    )


@staff_permission_required("debits.view_collectionpause")
def pause_list(request):
    return render(
        request,
        "backoffice/collection/pause_list.html",
        {
            "open_pauses": open_collection_pauses(),
            "recent_pauses": recent_collection_pauses(),
            "form": PauseForm(),
            "resume_form": ReasonForm(),
            "can_pause": request.user.has_perm("debits.pause_collection"),
        },
    )


@require_POST
@staff_permission_required("debits.pause_collection")
def pause_create(request):
    form = PauseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            pause = pause_collection(
                scope=data["scope"],
                card=data["card"],
                mandate=data["mandate"],
                reason=data["reason"],
                actor=request.user,
            )
        except CollectionControlError as exc:
            form.add_error(None, translated(exc))
        else:
            messages.success(
                request, _("Collection paused: %(scope)s.") % {"scope": pause.get_scope_display()}
            )
            return redirect("collection:pause_list")
    return render(
        request,
        "backoffice/collection/pause_list.html",
        {
            "open_pauses": open_collection_pauses(),
            "recent_pauses": recent_collection_pauses(),
            "form": form,
            "resume_form": ReasonForm(),
            "can_pause": True,
        },
    )


@require_POST
@staff_permission_required("debits.pause_collection")
def pause_resume(request, pk: int):
    pause = get_object_or_404(CollectionPause, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Resuming needs a reason."))
        return redirect("collection:pause_list")
    try:
        resume_collection(
            scope=pause.scope,
            card=pause.card,
            mandate=pause.mandate,
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
    except CollectionControlError as exc:
        messages.error(request, translated(exc))
    else:
        messages.success(request, _("Collection resumed."))
    return redirect("collection:pause_list")


def _back_to_card(request, fee: LateFee):
    return redirect("customers:card_detail", pk=fee.instalment.loan.card_id)


@require_POST
@staff_permission_required("debits.waive_late_fee")
def fee_waive(request, pk: int):
    fee = get_object_or_404(LateFee.objects.select_related("instalment__loan"), pk=pk)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise FeeWaiverError("A waiver needs a reason")
        fee = waive_late_fee(fee=fee, reason=form.cleaned_data["reason"], actor=request.user)
    except FeeWaiverError as exc:
        messages.error(request, translated(exc))
    else:
        if fee.state == LateFee.State.WAIVER_PENDING:
            messages.info(request, _("The waiver awaits a supervisor's approval."))
        else:
            messages.success(request, _("Late fee waived."))
    return _back_to_card(request, fee)


@require_POST
@staff_permission_required("debits.approve_fee_waiver")
def fee_approve(request, pk: int):
    fee = get_object_or_404(LateFee.objects.select_related("instalment__loan"), pk=pk)
    try:
        approve_fee_waiver(fee=fee, approver=request.user)
    except FeeWaiverError as exc:
        messages.error(request, translated(exc))
    else:
        messages.success(request, _("Waiver approved: the late fee is waived."))
    return _back_to_card(request, fee)

"""Staff pages of the debit engine: runs and their live progress, failed and unknown
attempts (retry, export), manual runs, collection pauses, fee waivers.

Thin: parse, call one service, render or redirect. Every page declares its permission.
"""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import AuditAction, record_audit_event
from accounts.roles import Role, holds_role
from backoffice.collection.filters import UnresolvedAttemptFilter
from backoffice.collection.forms import (
    WHOLE_BOOK_PHRASE,
    ManualRunForm,
    PauseForm,
    PauseSearchForm,
)
from backoffice.collection.pause_targets import (
    InvalidPauseTarget,
    card_target,
    mandate_target,
    pause_target_of,
    read_pause_target,
    whole_book_target,
)
from backoffice.permissions import staff_permission_required
from backoffice.ui.csv_export import local_timestamp, streaming_csv_response
from backoffice.ui.identifiers import parse_ids
from backoffice.ui.labels import code_label
from backoffice.ui.listing import (
    applied_filters,
    filtered_page,
    filtered_rows,
    filters_are_invalid,
)
from backoffice.ui.redirects import requested_next_path
from backoffice.ui.service_errors import translated
from debits.forms import ReasonForm
from debits.models import CollectionPause, DebitAttempt, DebitRun, LateFee
from debits.selectors import (
    attempts_not_retried,
    debit_run_progress,
    not_retried_messages,
    open_collection_pauses,
    pause_search_results,
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


def _report_not_retried(request, not_retried) -> None:
    for text in not_retried_messages(not_retried):
        messages.warning(request, text)


@require_POST
@staff_permission_required("debits.retry_debit_attempt")
def retry_attempts(request):
    ids = parse_ids(request.POST.getlist("attempt"))
    attempts = DebitAttempt.objects.filter(pk__in=ids)
    if not ids:
        messages.error(request, _("Select at least one attempt to retry."))
        return redirect("collection:attempt_list")
    # The customer page asks to come back to it (an agent may not open the run page).
    back = requested_next_path(request, "")
    try:
        run = retry_debit_attempts(attempts=attempts, actor=request.user)
    except DebitRunError as exc:
        messages.error(request, translated(exc))
        _report_not_retried(request, attempts_not_retried(run=None, attempt_ids=ids))
        return redirect(back or "collection:attempt_list")
    not_retried = attempts_not_retried(run=run, attempt_ids=ids)
    if run.selected_count:
        messages.success(
            request,
            _("Retry run #%(run)d: %(selected)d instalment(s) to collect, %(skipped)d skipped.")
            % {"run": run.pk, "selected": run.selected_count, "skipped": run.skipped_count},
        )
    else:
        messages.error(
            request,
            _("Retry run #%(run)d collects nothing: no selected attempt could be retried.")
            % {"run": run.pk},
        )
    _report_not_retried(request, not_retried)
    if back:
        return redirect(back)
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


def _pause_search_rows(query: str) -> list[dict]:
    """The search's cards, each with the signed links that pause it or one of its mandates."""
    return [
        {
            "card": card,
            "token": card_target(card).token,
            "mandates": [(m, mandate_target(m).token) for m in card.live_mandates],
        }
        for card in pause_search_results(query)
    ]


def _pause_list_context(request, **extra) -> dict:
    search = PauseSearchForm(request.GET or None)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    can_pause = request.user.has_perm("debits.pause_collection")
    return {
        "open_pauses": [(p, pause_target_of(p)) for p in open_collection_pauses()],
        "recent_pauses": recent_collection_pauses(),
        "search": search,
        "query": query,
        "search_rows": _pause_search_rows(query) if can_pause and query else [],
        "can_pause": can_pause,
        "can_pause_book": can_pause and holds_role(request.user, Role.OPERATIONS),
        "whole_book_token": whole_book_target().token,
        **extra,
    }


@staff_permission_required("debits.view_collectionpause")
def pause_list(request):
    return render(request, "backoffice/collection/pause_list.html", _pause_list_context(request))


def _back(request, default: str) -> str:
    """Where the confirmation returns to: the page it was opened from, if on this site."""
    return requested_next_path(request, default)


def _confirm_page(request, *, mode: str, target, form, back: str, pause=None):
    return render(
        request,
        "backoffice/collection/pause_confirm.html",
        {
            "mode": mode,
            "target": target,
            "description": target.describe() if target else "",
            "form": form,
            "back": back,
            "pause": pause,
            "whole_book_phrase": WHOLE_BOOK_PHRASE,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("debits.pause_collection")
def pause_create(request):
    """Confirm, then pause: the target arrives signed from the page it was chosen on."""
    back = _back(request, reverse("collection:pause_list"))
    if request.method == "GET":
        try:
            target = read_pause_target(request.GET.get("target", ""))
        except InvalidPauseTarget:
            messages.error(
                request, _("Choose what to pause on the card's page or with the search.")
            )
            return redirect("collection:pause_list")
        if target.is_whole_book and not holds_role(request.user, Role.OPERATIONS):
            messages.error(request, _("Only operations may pause the whole book."))
            return redirect("collection:pause_list")
        form = PauseForm(initial={"target": target.token})
        return _confirm_page(request, mode="pause", target=target, form=form, back=back)

    form = PauseForm(request.POST)
    if form.is_valid():
        target = form.cleaned_data["target"]
        try:
            pause_collection(
                **target.service_kwargs(),
                reason=form.cleaned_data["reason"],
                actor=request.user,
                whole_book_confirmed=form.cleaned_data["whole_book_confirmed"],
            )
        except CollectionControlError as exc:
            form.add_error(None, translated(exc))
        else:
            messages.success(
                request,
                _("Collection paused for %(target)s. Debit runs skip it until it is resumed.")
                % {"target": target.describe()},
            )
            return redirect(back)
    if "target" in form.errors:
        messages.error(request, form.errors["target"][0])
        return redirect("collection:pause_list")
    target = form.cleaned_data.get("target")
    return _confirm_page(request, mode="pause", target=target, form=form, back=back)


@require_http_methods(["GET", "POST"])
@staff_permission_required("debits.pause_collection")
def pause_resume(request, pk: int):
    """Confirm, then resume the pause in force, naming what collection restarts for."""
    pause = get_object_or_404(
        CollectionPause.objects.select_related(
            "card__customer", "mandate__loan", "mandate__card__customer"
        ),
        pk=pk,
    )
    target = pause_target_of(pause)
    back = _back(request, reverse("collection:pause_list"))
    if pause.resumed_at is not None:
        messages.info(
            request,
            _("Collection for %(target)s was already resumed.") % {"target": target.describe()},
        )
        return redirect(back)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, _("Resuming needs a reason."))
            return redirect(back)
        try:
            resume_collection(
                **target.service_kwargs(), reason=form.cleaned_data["reason"], actor=request.user
            )
        except CollectionControlError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Collection resumed for %(target)s. The next debit run collects there again.")
                % {"target": target.describe()},
            )
        return redirect(back)
    return _confirm_page(request, mode="resume", target=target, form=form, back=back, pause=pause)


def _back_to_card(request, fee: LateFee):
    """Back to the page the fee was acted on from (the customer page), else the card's."""
    card_page = reverse("customers:card_detail", kwargs={"pk": fee.instalment.loan.card_id})
    return redirect(requested_next_path(request, card_page))


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

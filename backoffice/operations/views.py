"""The operations dashboard, alert handling and the emergency controls.

Thin: parse, call one service, render or redirect. Every page declares its
permission; the emergency controls also ask for a confirmation and a reason.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backoffice.operations.charts import Series, bar_chart, horizontal_bars, line_chart
from backoffice.operations.forms import EmergencyActionForm, ResolveAlertForm
from backoffice.permissions import staff_permission_required
from backoffice.ui.labels import code_label
from backoffice.ui.service_errors import translated
from debits.models import Alert, CollectionPause
from debits.operations_selectors import operations_dashboard
from debits.selectors import debit_run_progress
from debits.services import (
    AlertError,
    CollectionControlError,
    EmergencyControlError,
    StuckRunError,
    acknowledge_alert,
    pause_collection,
    request_resync_of_stale_mandates,
    rerun_stuck_debit_run,
    resolve_alert,
    resume_collection,
)


def _charts(figures: dict) -> dict:
    per_day = figures["per_day"]
    days = [row["day"].strftime("%m-%d") for row in per_day]
    lag = figures["lag_per_hour"]
    hours = [hour.strftime("%m-%d %H:00") for hour, _ in lag]
    snapshots = figures["out_of_sync_over_time"]
    severities = figures["alerts_by_severity"]
    return {
        "collected_vs_failed": bar_chart(
            title=_("Debits collected and failed per day"),
            labels=days,
            series=[
                Series(_("Collected"), "ok", [row["collected"] for row in per_day]),
                Series(_("Failed"), "bad", [row["failed"] for row in per_day]),
            ],
        ),
        "failures_by_code": horizontal_bars(
            title=_("Failures by code"),
            items=[
                (code_label(code, "failure_code") or "—", n)
                for code, n in figures["failures_by_code"]
            ],
        ),
        "resync_lag": line_chart(
            title=_("Re-sync lag per hour (p50 and p99)"),
            labels=hours,
            series=[
                Series("p50", "brand", [h.quantile(0.5) for _, h in lag]),
                Series("p99", "warn", [h.quantile(0.99) for _, h in lag]),
            ],
            unit=" s",
        ),
        "out_of_sync": line_chart(
            title=_("Mandates out of sync over time"),
            labels=[hour.strftime("%m-%d %H:00") for hour, _ in snapshots],
            series=[Series(_("Out of sync"), "bad", [n for _, n in snapshots])],
        ),
        "alerts_by_severity": bar_chart(
            title=_("Open alerts by severity"),
            labels=[Alert.Severity(s).label for s in severities],
            series=[Series(_("Open alerts"), "warn", list(severities.values()))],
        ),
    }


@staff_permission_required("debits.view_operations_dashboard")
def dashboard(request):
    figures = operations_dashboard()
    running = next((run for run in figures["runs_today"] if run.state == "running"), None)
    context = {
        **figures,
        "charts": _charts(figures),
        "lag_rows": [
            {"hour": hour, "count": h.count, "p50": h.quantile(0.5), "p99": h.quantile(0.99)}
            for hour, h in figures["lag_per_hour"]
        ],
        "open_alert_count": sum(figures["alerts_by_severity"].values()),
        "live_run": debit_run_progress(running.pk) if running else None,
        "can_handle_alerts": request.user.has_perm("debits.change_alert"),
        "can_use_emergency": request.user.has_perm("debits.use_emergency_controls"),
        "resolve_form": ResolveAlertForm(),
    }
    return render(request, "backoffice/operations/dashboard.html", context)


@require_POST
@staff_permission_required("debits.change_alert")
def alert_acknowledge(request, pk: int):
    alert = get_object_or_404(Alert, pk=pk)
    try:
        acknowledge_alert(alert=alert, actor=request.user)
    except AlertError as exc:
        messages.error(request, translated(exc))
    else:
        messages.success(
            request, _("You took on: %(alert)s.") % {"alert": alert.get_kind_display()}
        )
    return redirect("operations:dashboard")


@require_POST
@staff_permission_required("debits.change_alert")
def alert_resolve(request, pk: int):
    alert = get_object_or_404(Alert, pk=pk)
    form = ResolveAlertForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say what was done: a resolution needs a note."))
        return redirect("operations:dashboard")
    try:
        resolve_alert(alert=alert, actor=request.user, note=form.cleaned_data["note"])
    except AlertError as exc:
        messages.error(request, translated(exc))
    else:
        messages.success(request, _("Resolved: %(alert)s.") % {"alert": alert.get_kind_display()})
    return redirect("operations:dashboard")


def _pause_all(request, reason: str, form) -> str:
    # The ticked "I understand" on this confirmation page is the second confirmation.
    pause_collection(
        scope=CollectionPause.Scope.BOOK,
        reason=reason,
        actor=request.user,
        whole_book_confirmed=form.cleaned_data["confirm"],
    )
    return "Every debit is paused: runs skip the whole book until you resume."


def _resume_all(request, reason: str, form) -> str:
    resume_collection(scope=CollectionPause.Scope.BOOK, reason=reason, actor=request.user)
    return _("Debits resumed: the next run collects the book again.")


def _resync_stale(request, reason: str, form) -> str:
    behind = request_resync_of_stale_mandates(actor=request.user, reason=reason)
    return _("Re-sync of %(count)d mandate(s) behind their card is on its way to the workers.") % {
        "count": behind
    }


def _rerun_run(request, reason: str, form) -> str:
    stuck = form.cleaned_data["run"]
    working = rerun_stuck_debit_run(run=stuck, actor=request.user, reason=reason)
    if working.pk == stuck.pk:
        return _(
            "The unfinished chunks of run #%(run)d are on their way to the debit workers again."
        ) % {"run": stuck.pk}
    return _(
        "Run #%(stuck)d stopped before its chunks were recorded: run #%(working)d collects "
        "its date now."
    ) % {"stuck": stuck.pk, "working": working.pk}


# action -> (title, what it does, the service call)
EMERGENCY_ACTIONS = {
    "pause_all": (
        gettext_lazy("Pause all debits"),
        gettext_lazy(
            "Every run skips every instalment (reason: collection paused) until debits are "
            "resumed. Use it when collecting would harm customers: a wrong amount, a network "
            "incident, a mass password change the re-sync cannot keep up with."
        ),
        _pause_all,
    ),
    "resume_all": (
        gettext_lazy("Resume all debits"),
        gettext_lazy(
            "Ends the pause of the whole book; the next scheduled or retry run collects again."
        ),
        _resume_all,
    ),
    "resync_stale": (
        gettext_lazy("Re-sync every stale mandate"),
        gettext_lazy(
            "Re-binds every active mandate whose agreement is behind its card's credential "
            "version, now, on the re-sync workers (trigger: reconciliation)."
        ),
        _resync_stale,
    ),
    "rerun_run": (
        gettext_lazy("Re-run a stuck run"),
        gettext_lazy(
            "Sends every unfinished chunk of the run to the debit workers again now, without "
            "waiting for the sweeper. Nothing is collected twice: a chunk claims only "
            "instalments with nothing in flight. A run that stopped before recording its "
            "chunks is closed as failed and a retry run of its date takes over."
        ),
        _rerun_run,
    ),
}


@staff_permission_required("debits.use_emergency_controls")
def emergency_action(request, action: str):
    """GET: the confirmation page. POST: do it, with the reason, or show the errors."""
    if action not in EMERGENCY_ACTIONS:
        raise Http404
    title, explanation, perform = EMERGENCY_ACTIONS[action]
    form = EmergencyActionForm(request.POST or None, needs_run=action == "rerun_run")
    if request.method == "POST" and form.is_valid():
        try:
            done = perform(request, form.cleaned_data["reason"], form)
        except (CollectionControlError, EmergencyControlError, StuckRunError) as exc:
            messages.error(request, translated(exc))
        else:
            messages.success(request, done)
            return redirect("operations:dashboard")
    return render(
        request,
        "backoffice/operations/confirm.html",
        {"title": title, "explanation": explanation, "form": form, "action": action},
    )

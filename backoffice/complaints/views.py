"""Staff pages of the complaints area: parse, call one service, show what happened."""

import datetime as dt

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Card, Customer
from backoffice.complaints import deadlines, reports, selectors
from backoffice.complaints.forms import (
    AssignForm,
    CompensationForm,
    DecideForm,
    LogComplaintForm,
    ReasonForm,
    RemedyForm,
)
from backoffice.complaints.models import Compensation, Complaint, Team
from backoffice.complaints.services import (
    ComplaintError,
    apply_remedy,
    approve_compensation,
    assign_complaint,
    close_complaint,
    confirm_compensation_proposal,
    decide_complaint,
    extend_complaint_deadline,
    log_complaint,
    reject_compensation,
    reopen_complaint,
    request_compensation,
)
from backoffice.permissions import staff_permission_required
from backoffice.ui.csv_export import streaming_csv_response
from backoffice.ui.identifiers import page_number
from backoffice.ui.service_errors import translated

VIEW = "complaints.view_complaint"
HANDLE = "complaints.handle_complaint"


@staff_permission_required(VIEW)
def complaint_queue(request):
    mine = request.GET.get("mine") == "1"
    team = request.GET.get("team", "")
    state = request.GET.get("state", "open")
    page = selectors.complaint_queue_page(
        today=deadlines.received_on(timezone.now()),
        page=page_number(request.GET.get("page")),
        assignee=request.user if mine else None,
        team=team,
        state=state,
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/complaints/queue.html",
        {
            "page": page,
            "complaints": page.object_list,
            "query": query.urlencode(),
            "mine": mine,
            "team": team,
            "state": state,
            "teams": Team.choices,
            "states": Complaint.State.choices,
        },
    )


@staff_permission_required("complaints.add_complaint")
def log_complaint_page(request, customer_id: int):
    customer = get_object_or_404(Customer, pk=customer_id)
    initial = {"card": request.GET.get("card")} if request.GET.get("card") else None
    form = LogComplaintForm(request.POST or None, customer=customer, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = log_complaint(
                customer=customer,
                card=form.cleaned_data["card"],
                category=form.cleaned_data["category"],
                channel=form.cleaned_data["channel"],
                description=form.cleaned_data["description"],
                received_at=form.cleaned_data["received_at"],
                actor=request.user,
            )
        except ComplaintError as exc:
            form.add_error(None, translated(exc))
        else:
            messages.success(
                request,
                _(
                    "Complaint #%(number)d logged; the customer is told the decision is due "
                    "by %(due)s."
                )
                % {"number": complaint.pk, "due": f"{complaint.due_on:%Y-%m-%d}"},
            )
            return redirect("complaints:detail", pk=complaint.pk)
    return render(request, "backoffice/complaints/log.html", {"customer": customer, "form": form})


@staff_permission_required(VIEW)
def complaint_detail(request, pk: int):
    complaint = get_object_or_404(selectors.complaints_for_page(), pk=pk)
    can_handle = request.user.has_perm(HANDLE)
    context = {
        **selectors.complaint_page(complaint),
        "can_handle": can_handle,
        "can_approve": request.user.has_perm("complaints.approve_compensation"),
        "days_left": deadlines.days_left(complaint.due_on, now=timezone.now()),
        "breached": deadlines.is_breached(complaint.due_on, now=timezone.now()),
        "deadline_moment": deadlines.deadline_moment(complaint.due_on),
    }
    if can_handle:
        context.update(
            assign_form=AssignForm(
                handlers=selectors.complaint_handlers(), initial={"team": complaint.team}
            ),
            decide_form=DecideForm(),
            reason_form=ReasonForm(),
            compensation_form=CompensationForm(),
        )
    return render(request, "backoffice/complaints/detail.html", context)


def _act(request, pk: int, action) -> object:
    """Run ``action(complaint)`` and turn a refusal into a message on the complaint page."""
    complaint = get_object_or_404(Complaint, pk=pk)
    try:
        done = action(complaint)
    except ComplaintError as exc:
        messages.error(request, translated(exc))
    else:
        if done:
            messages.success(request, done)
    return redirect("complaints:detail", pk=pk)


def _act_on_valid(request, pk: int, form, action) -> object:
    """The one shape of every form posted on the complaint page: an invalid form is
    its errors as messages; a valid one runs ``action(complaint, cleaned_data)``
    through ``_act``, whose return is the success message."""
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("complaints:detail", pk=pk)
    return _act(request, pk, lambda complaint: action(complaint, form.cleaned_data))


@require_POST
@staff_permission_required(HANDLE)
def assign(request, pk: int):
    def run(complaint, data):
        assign_complaint(
            complaint=complaint, assignee=data["assignee"], team=data["team"], actor=request.user
        )
        name = data["assignee"].get_full_name() or data["assignee"].username
        return _("Assigned to %(name)s.") % {"name": name}

    form = AssignForm(request.POST, handlers=selectors.complaint_handlers())
    return _act_on_valid(request, pk, form, run)


@require_POST
@staff_permission_required(HANDLE)
def extend(request, pk: int):
    def run(complaint, data):
        extension = extend_complaint_deadline(
            complaint=complaint, reason=data["reason"], actor=request.user
        )
        return _("Deadline moved to %(date)s; the customer is told.") % {
            "date": f"{extension.new_due_on:%Y-%m-%d}"
        }

    return _act_on_valid(request, pk, ReasonForm(request.POST), run)


@require_POST
@staff_permission_required(HANDLE)
def decide(request, pk: int):
    def run(complaint, data):
        decide_complaint(complaint=complaint, actor=request.user, **data)
        return _("Decision recorded and sent to the customer.")

    return _act_on_valid(request, pk, DecideForm(request.POST), run)


@require_POST
@staff_permission_required(HANDLE)
def close(request, pk: int):
    return _act(
        request, pk, lambda c: close_complaint(complaint=c, actor=request.user) and _("Closed.")
    )


@require_POST
@staff_permission_required(HANDLE)
def reopen(request, pk: int):
    def run(complaint, data):
        reopen_complaint(complaint=complaint, reason=data["reason"], actor=request.user)
        return _("Reopened.")

    return _act_on_valid(request, pk, ReasonForm(request.POST), run)


@require_POST
@staff_permission_required(HANDLE)
def remedy(request, pk: int):
    def run(complaint, data):
        result = apply_remedy(
            complaint=complaint, code=data["code"], target_id=data["target"], actor=request.user
        )
        return _("Remedy carried out: %(result)s") % {"result": result}

    return _act_on_valid(request, pk, RemedyForm(request.POST), run)


@require_POST
@staff_permission_required(HANDLE)
def compensate(request, pk: int):
    def run(complaint, data):
        compensation = request_compensation(complaint=complaint, actor=request.user, **data)
        return _("%(kind)s: %(state)s.") % {
            "kind": compensation.get_kind_display(),
            "state": compensation.get_state_display(),
        }

    return _act_on_valid(request, pk, CompensationForm(request.POST), run)


def _on_compensation(request, pk: int, action):
    compensation = get_object_or_404(Compensation, pk=pk)
    try:
        message = action(compensation)
    except ComplaintError as exc:
        messages.error(request, translated(exc))
    else:
        messages.success(request, message)
    return redirect("complaints:detail", pk=compensation.complaint_id)


@require_POST
@staff_permission_required("complaints.approve_compensation")
def compensation_approve(request, pk: int):
    return _on_compensation(
        request,
        pk,
        lambda c: approve_compensation(compensation=c, approver=request.user) and _("Approved."),
    )


@require_POST
@staff_permission_required(HANDLE)
def compensation_reject(request, pk: int):
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _on_compensation(
        request,
        pk,
        lambda c: (
            reject_compensation(compensation=c, actor=request.user, reason=reason)
            and _("Turned down.")
        ),
    )


@require_POST
@staff_permission_required(HANDLE)
def compensation_confirm(request, pk: int):
    def run(compensation):
        confirmed = confirm_compensation_proposal(compensation=compensation, actor=request.user)
        return _("Confirmed: %(state)s.") % {"state": confirmed.get_state_display()}

    return _on_compensation(request, pk, run)


@staff_permission_required("complaints.approve_compensation")
def approvals(request):
    return render(request, "backoffice/complaints/approvals.html", selectors.approvals_waiting())


@staff_permission_required("accounts.view_card")
def card_timeline(request, card_id: int):
    card = get_object_or_404(Card.objects.select_related("customer"), pk=card_id)
    return render(
        request, "backoffice/complaints/card_timeline.html", selectors.card_timeline_page(card)
    )


# --- Reports ---------------------------------------------------------------------------

REPORT_MONTHS = 6


def _report_period(request) -> tuple[dt.date, dt.date, str]:
    """The months asked for (``from`` and ``to`` as YYYY-MM), by default the last six."""
    today = deadlines.received_on(timezone.now())

    def month(name: str, default: dt.date) -> dt.date:
        try:
            return dt.datetime.strptime(request.GET.get(name, ""), "%Y-%m").date()  # noqa: DTZ007
        except ValueError:
            return default

    back = today.replace(day=1)
    for _month in range(REPORT_MONTHS - 1):
        back = (back - dt.timedelta(days=1)).replace(day=1)
    end = month("to", today)
    start = min(month("from", back), end)
    # A bounded period: five years of months at most.
    start = max(start, end.replace(year=end.year - 5))
    return start, end, request.GET.get("team", "")


@staff_permission_required("complaints.view_complaint_report")
def report(request):
    start, end, team = _report_period(request)
    return render(
        request,
        "backoffice/complaints/reports.html",
        {
            "tables": reports.monthly_report(start=start, end=end, team=team),
            "start": start,
            "end": end,
            "team": team,
            "teams": Team.choices,
            "query": request.GET.urlencode(),
        },
    )


@staff_permission_required("complaints.view_complaint_report")
def report_export(request):
    start, end, team = _report_period(request)
    tables = {t.key: t for t in reports.monthly_report(start=start, end=end, team=team)}
    table = tables.get(request.GET.get("table", ""), tables["category"])
    header, rows = reports.report_csv_rows(table)
    # A byte-order mark first, so a spreadsheet opens the Chinese names as UTF-8.
    header[0] = "\ufeff" + header[0]
    return streaming_csv_response(
        header=header,
        rows=rows,
        filename=f"complaints-{table.key}-{start:%Y%m}-{end:%Y%m}.csv",
    )

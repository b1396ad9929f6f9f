from django.shortcuts import render

from backoffice.complaints.selectors import approvals_waiting
from backoffice.dashboard import selectors
from backoffice.permissions import staff_login_required


@staff_login_required
def dashboard(request):
    context = {"stats": selectors.dashboard_stats()}
    # Each list only for the roles that may open what it links to.
    if request.user.has_perm("debits.view_alert"):
        context["alerts"] = selectors.open_alerts()
    if request.user.has_perm("debits.view_mandate"):
        context["out_of_sync"] = selectors.mandates_out_of_sync()
    if request.user.has_perm("debits.view_debitrun"):
        context["runs"] = selectors.latest_debit_runs()
    if request.user.has_perm("complaints.approve_compensation"):
        context["approvals"] = approvals_waiting()
    return render(request, "backoffice/dashboard/dashboard.html", context)

from django.shortcuts import render

from backoffice.permissions import staff_permission_required
from debits.selectors import recent_debit_runs


@staff_permission_required("debits.view_debitrun")
def run_list(request):
    return render(request, "debits/run_list.html", {"runs": recent_debit_runs()})

from django.shortcuts import render

from backoffice.permissions import staff_login_required
from backoffice.selectors import dashboard_stats


@staff_login_required
def dashboard(request):
    return render(request, "backoffice/dashboard.html", {"stats": dashboard_stats()})

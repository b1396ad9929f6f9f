from django.shortcuts import render

from accounts.models import AuditEvent
from backoffice.permissions import staff_login_required, staff_permission_required
from backoffice.selectors import dashboard_stats


@staff_login_required
def dashboard(request):
    return render(request, "backoffice/dashboard.html", {"stats": dashboard_stats()})


@staff_permission_required("accounts.view_auditevent")
def audit_trail(request):
    events = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")[:200]
    return render(request, "backoffice/audit_trail.html", {"events": events})

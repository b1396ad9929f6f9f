"""The read-only audit viewer: filters, pagination and a CSV export.

Nothing here writes to ``AuditEvent``; the table is append-only (model and
PostgreSQL trigger). The export neutralises spreadsheet formulas so an
attacker-chosen name or reason cannot run in the auditor's spreadsheet.
"""

import json

import django_filters
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditAction, record_audit_event
from accounts.models import AuditEvent, StaffUser
from backoffice.permissions import staff_permission_required
from backoffice.ui.csv_export import local_timestamp, streaming_csv_response
from backoffice.ui.date_filters import day_from_filter, day_to_filter
from backoffice.ui.listing import (
    applied_filters,
    filtered_page,
    filtered_rows,
    filters_are_invalid,
)

PAGE_SIZE = 50


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.ModelChoiceFilter(
        queryset=StaffUser.objects.order_by("username"), label=_("Who")
    )
    action = django_filters.CharFilter(lookup_expr="istartswith", label=_("Action starts with"))
    occurred_after = day_from_filter("occurred_at")
    occurred_before = day_to_filter("occurred_at")
    object_type = django_filters.CharFilter(lookup_expr="iexact", label=_("Object type"))
    object_id = django_filters.CharFilter(lookup_expr="exact", label=_("Object id"))
    request_id = django_filters.CharFilter(lookup_expr="exact", label=_("Request id"))

    class Meta:
        model = AuditEvent
        fields = []


def _filtered(request):
    events = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")
    return AuditEventFilter(request.GET or None, queryset=events)


def _trail_page(request, filterset, *, status: int = 200):
    return render(
        request,
        "backoffice/audit/audit_trail.html",
        {
            **filtered_page(request, filterset, PAGE_SIZE),
            "can_export": request.user.has_perm("accounts.export_auditevent"),
        },
        status=status,
    )


@staff_permission_required("accounts.view_auditevent")
def audit_trail(request):
    return _trail_page(request, _filtered(request))


@staff_permission_required("accounts.view_auditevent", "accounts.export_auditevent")
def audit_trail_export(request):
    filterset = _filtered(request)
    if filters_are_invalid(filterset):
        # Nothing is exported (and so nothing recorded) until the filters are valid.
        return _trail_page(request, filterset, status=400)
    # The export itself is an access to personal data about staff: record it.
    record_audit_event(
        actor=request.user,
        action=AuditAction.AUDIT_EXPORTED,
        object_type="accounts.auditevent",
        summary={"filters": applied_filters(filterset)},
    )
    header = list(AuditEvent.SHOWN_FIELDS)
    rows = (
        (
            local_timestamp(event.occurred_at),
            event.actor.username if event.actor else "",
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            json.dumps(event.summary, ensure_ascii=False, sort_keys=True),
            event.reason,
            event.request_id,
            event.source_ip,
        )
        for event in filtered_rows(filterset).iterator(chunk_size=500)
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return streaming_csv_response(header=header, rows=rows, filename=f"audit-{stamp}.csv")

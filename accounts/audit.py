"""Writing the audit trail. Every service that changes something calls this."""

from typing import Any

from django.db import models

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, StaffUser
from accounts.request_context import current_request_id, current_source_ip


def record_audit_event(
    *,
    actor: StaffUser | None,
    action: AuditAction,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    summary: dict[str, Any] | None = None,
    reason: str = "",
    actor_label: str = "",
) -> AuditEvent:
    """Append one audit event. ``summary`` must never hold a secret or a full identifier.

    ``action`` must be a member of the vocabulary: a free string that is not one
    raises ``ValueError`` here, before anything is written.
    """
    action = AuditAction(action)
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or target.pk
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label or ("staff" if actor else "system"),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary or {},
        reason=reason,
        request_id=current_request_id(),
        source_ip=current_source_ip(),
    )

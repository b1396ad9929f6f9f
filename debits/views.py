from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.forms import StartPasswordResetForm
from accounts.models import Card, CardCredential
from accounts.selectors import card_credential_overview
from accounts.services import reset_needs_supervisor
from backoffice.permissions import staff_permission_required
from debits.models import Mandate, MandateSync
from debits.selectors import (
    card_instalments_with_attempts,
    card_mandates_overview,
    recent_debit_runs,
)
from debits.services import MandateNotResyncable, resync_mandate


@staff_permission_required("debits.view_debitrun")
def run_list(request):
    return render(request, "debits/run_list.html", {"runs": recent_debit_runs()})


# --- Card page: credentials, mandates and re-sync ----------------------------------


@staff_permission_required("accounts.view_card")
def card_detail(request, pk: int):
    card = get_object_or_404(Card.objects.select_related("customer"), pk=pk)
    context = {
        "card": card,
        **card_credential_overview(card),
        **card_mandates_overview(card),
        "card_instalments": card_instalments_with_attempts(card),
        "reset_form": StartPasswordResetForm(),
        "reset_needs_supervisor": reset_needs_supervisor(
            card=card, kind=CardCredential.Kind.TRANSACTION
        ),
        "can_start_reset": request.user.has_perm("accounts.start_password_reset"),
        "can_approve_reset": request.user.has_perm("accounts.approve_locked_card_reset"),
        "can_resync": request.user.has_perm("debits.resync_mandate"),
        "now": timezone.now(),
    }
    return render(request, "debits/card_detail.html", context)


@require_POST
@staff_permission_required("debits.resync_mandate")
def resync_mandate_now(request, pk: int):
    mandate = get_object_or_404(Mandate.objects.select_related("card"), pk=pk)
    try:
        sync = resync_mandate(
            mandate=mandate, trigger=MandateSync.Trigger.MANUAL, actor=request.user
        )
    except MandateNotResyncable as exc:
        messages.error(request, str(exc))
    else:
        if sync.outcome == MandateSync.Outcome.FAILED:
            messages.error(
                request,
                f"Re-sync of mandate {mandate.reference} failed ({sync.error_code}); "
                "try again in a moment.",
            )
        elif sync.outcome == MandateSync.Outcome.ALREADY_IN_SYNC:
            messages.info(request, f"Mandate {mandate.reference} was already in sync.")
        else:
            messages.success(
                request,
                f"Mandate {mandate.reference} re-synced to credential version "
                f"{sync.target_credential_version}.",
            )
    return redirect("debits:card_detail", pk=mandate.card_id)

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import CustomerNewPasswordForm, StartPasswordResetForm
from accounts.models import Card
from accounts.pii import mask_search_text
from accounts.rate_limits import RESET_LINK_PAGE, limit_by_client_address
from accounts.selectors import customer_for_staff, search_customers
from accounts.services import (
    CardPasswordError,
    PasswordPolicyError,
    ResetLinkInvalid,
    check_password_reset_link,
    complete_password_reset,
    start_password_reset,
)
from accounts.services.card_credentials import reset_token_fingerprint
from backoffice.permissions import staff_permission_required


@staff_permission_required("accounts.view_customer")
def customer_search(request):
    query = request.GET.get("q", "")[:64]
    page = Paginator(search_customers(query), 25).get_page(request.GET.get("page"))
    # The page never echoes a full card number, national id or phone back.
    shown = mask_search_text(query)
    return render(
        request,
        "accounts/customer_search.html",
        {
            "query": query,
            "query_shown": shown,
            # A masked query is not put back in the box: submitting it again would find nothing.
            "query_input": query if shown == query else "",
            "page": page,
        },
    )


# --- Customer page and staff-initiated card password reset -----------------------


@staff_permission_required("accounts.view_customer")
def customer_detail(request, pk: int):
    customer = customer_for_staff(pk)
    return render(request, "accounts/customer_detail.html", {"customer": customer})


@require_POST
@staff_permission_required("accounts.start_password_reset")
def start_card_password_reset(request, card_id: int):
    card = get_object_or_404(Card.objects.select_related("customer"), pk=card_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("accounts:customer_detail", kwargs={"pk": card.customer_id})
    form = StartPasswordResetForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return redirect(back)
    data = form.cleaned_data
    try:
        reset = start_password_reset(
            card=card,
            kind=data["kind"],
            verification_method=data["verification_method"],
            verification_reference=data["verification_reference"],
            delivery_channel=data["delivery_channel"],
            actor=request.user,
            approved_by=request.user if data["supervisor_approval"] else None,
        )
    except CardPasswordError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    minutes = settings.PASSWORD_RESET_LINK_TTL_SECONDS // 60
    channel = reset.get_delivery_channel_display()
    messages.success(
        request,
        f"A single-use reset link was sent to the customer by {channel} (valid {minutes} minutes).",
    )
    return redirect(back)


# --- Customer-facing reset pages (no staff sign-in) ------------------------------
# The link carries the token in its path. The first GET moves only the token's
# fingerprint into the session and redirects to a token-free URL, so the token
# is in no page, no Referer header, no browser history entry the customer goes
# back to, and in no log line Django writes. A server access log sees one 302
# with the token: the logging config redacts it (backoffice.log.RedactResetTokenFilter);
# a proxy in front must do the same for /reset/ paths.

RESET_SESSION_KEY = "card_password_reset_fingerprint"


@never_cache
@limit_by_client_address(RESET_LINK_PAGE)
def password_reset_link(request, token: str):
    request.session[RESET_SESSION_KEY] = reset_token_fingerprint(token[:200])
    return redirect("accounts:password_reset_form")


def _reset_invalid(request, reason: str):
    # A clear page with 200: the customer did nothing wrong that a status code
    # would help with, and a 4xx would make Django log a warning for each one.
    request.session.pop(RESET_SESSION_KEY, None)
    return render(
        request,
        "accounts/password_reset_invalid.html",
        {"message": ResetLinkInvalid.MESSAGES[reason], "reason": reason},
    )


@never_cache
@limit_by_client_address(RESET_LINK_PAGE, methods=("POST",))
def password_reset_form(request):
    fingerprint = request.session.get(RESET_SESSION_KEY, "")
    if not fingerprint:
        # Opened without a link (or after finishing): nothing failed, so a plain 200.
        return render(
            request,
            "accounts/password_reset_invalid.html",
            {"message": "Open the link from the bank's message to set your card password."},
        )
    try:
        reset = check_password_reset_link(token_fingerprint=fingerprint)
    except ResetLinkInvalid as exc:
        return _reset_invalid(request, exc.reason)
    form = CustomerNewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            complete_password_reset(
                token_fingerprint=fingerprint, new_password=form.cleaned_data["password"]
            )
        except PasswordPolicyError as exc:
            form.add_error("password", str(exc))
        except ResetLinkInvalid as exc:
            return _reset_invalid(request, exc.reason)
        else:
            request.session.pop(RESET_SESSION_KEY, None)
            return render(
                request, "accounts/password_reset_done.html", {"last_four": reset.card.last_four}
            )
    return render(
        request,
        "accounts/password_reset_form.html",
        {"form": form, "last_four": reset.card.last_four, "kind": reset.get_kind_display()},
    )

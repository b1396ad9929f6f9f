from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import StartPasswordResetForm
from accounts.models import Card, CardCredential, Customer
from accounts.pii import (
    fingerprint_search_term,
    is_full_phone,
    mask_phone,
    mask_search_text,
    normalise_card_number,
)
from accounts.rate_limits import RESET_LINK_PAGE, limit_by_client_address
from accounts.search_terms import url_search_term
from accounts.selectors import card_credential_overview
from accounts.services import (
    CardPasswordError,
    PasswordPolicyError,
    ResetLinkInvalid,
    check_password_reset_link,
    complete_password_reset,
    reset_needs_supervisor,
    reveal_customer_phone,
)
from accounts.services.card_credentials import reset_token_fingerprint
from accounts.services.link_delivery import link_not_sent_message
from accounts.services.staff_security import StaffSecurityError
from backoffice.collection.pause_targets import card_target, mandate_target, pause_target_of
from backoffice.customers.customer_360 import customer_360, customer_mandates, customer_timeline
from backoffice.customers.forms import CustomerNewPasswordForm, RevealPhoneForm
from backoffice.permissions import staff_login_required, staff_permission_required
from backoffice.ui.identifiers import page_number
from backoffice.ui.labels import code_label
from backoffice.ui.redirects import redirect_to_next
from backoffice.ui.service_errors import translated
from debits.models import Mandate, MandateSync
from debits.selectors import (
    card_instalments_with_attempts,
    card_mandates_overview,
    customer_search_page,
    open_pauses_for_card,
)
from debits.services import MandateNotResyncable, resync_mandate

# --- Searching by full identifiers ------------------------------------------------
# A full card number or national id typed into a search never reaches a URL (browser
# history, Referer headers, proxy and access logs): the search box posts, the view
# turns the identifier into an ``fp:`` term of keyed fingerprints and redirects to a
# URL that carries only those (Post/Redirect/Get). A full phone number, which no
# fingerprint column finds, waits in the session and the URL shows it masked.
# Names, last fours and partial phones stay in the URL, so such searches bookmark.

SEARCH_PHONE_SESSION_KEY = "customer_search_phone"
# Long enough for an ``fp:`` term of two fingerprints; anything typed is far shorter.
SEARCH_MAX_LENGTH = 140


def _url_search_term(request, query: str) -> str:
    """The form of a search that may appear in a URL (remembering a full phone)."""
    query = query.strip()[:SEARCH_MAX_LENGTH]
    if is_full_phone(query):
        digits = normalise_card_number(query)
        request.session[SEARCH_PHONE_SESSION_KEY] = digits
        return mask_phone(digits)
    return fingerprint_search_term(query)


def _query_from_url_term(request, term: str) -> str:
    """The search a URL term stands for: a masked phone is the one the session holds."""
    held = request.session.get(SEARCH_PHONE_SESSION_KEY, "")
    if held and mask_phone(held) == term:
        return held
    return term


@staff_permission_required("accounts.view_customer")
def customer_search(request):
    typed = request.POST.get("q", "") if request.method == "POST" else request.GET.get("q", "")
    # No name or number holds a NUL, and PostgreSQL refuses one in a query.
    typed = typed.replace("\x00", "")
    term = _url_search_term(request, typed) if typed.strip() else ""
    if request.method == "POST" or term != typed.strip()[:SEARCH_MAX_LENGTH]:
        # An identifier in the address bar (an old bookmark) is moved out of it too.
        url = reverse("customers:customer_search")
        return redirect(f"{url}?{urlencode({'q': term})}" if term else url)
    query = _query_from_url_term(request, term)
    page = customer_search_page(query, page=page_number(request.GET.get("page"))) if query else None
    # The page never echoes a full card number, national id or phone back.
    shown = mask_search_text(query)
    return render(
        request,
        "backoffice/customers/customer_search.html",
        {
            "query": query,
            "query_shown": shown,
            # A masked query is not put back in the box: submitting it again would find nothing.
            "query_input": query if shown == query else "",
            "url_term": term,
            "page": page,
        },
    )


@require_POST
@staff_login_required
def admin_search(request):
    """The admin's search box: a full card number, national id or phone reaches the
    changelist as an ``fp:`` term of fingerprints (``accounts.search_terms``).

    The changelist itself still checks that the person may see that model.
    """
    changelist = request.POST.get("changelist", "")
    admin_root = reverse("admin:index")
    if not (
        changelist.startswith(admin_root)
        and url_has_allowed_host_and_scheme(changelist, allowed_hosts={request.get_host()})
    ):
        return redirect(admin_root)
    params = [
        (key, value)
        for key in request.POST
        if key not in {"q", "changelist", "csrfmiddlewaretoken"}
        for value in request.POST.getlist(key)
    ]
    term = url_search_term(request.session, request.POST.get("q", "")[:SEARCH_MAX_LENGTH])
    if term:
        params.append(("q", term))
    return redirect(f"{changelist}?{urlencode(params)}" if params else changelist)


# --- Customer page and staff-initiated card password reset -----------------------


@staff_permission_required("accounts.view_customer")
def customer_detail(request, pk: int):
    """The customer 360° page: what went wrong first, then cards, mandates, loans,
    debit attempts, fees, complaints, alerts and the timeline, with the actions the
    viewer's role allows. ``?fragment=mandates`` is the mandates section alone, which
    the page polls while a re-sync is pending; ``?fragment=timeline`` is the timeline,
    which the page fetches once loaded."""
    customer = get_object_or_404(Customer, pk=pk)
    if request.GET.get("fragment") == "timeline":
        return render(
            request, "backoffice/customers/_customer_timeline.html", customer_timeline(customer)
        )
    if request.GET.get("fragment") == "mandates":
        return render(
            request,
            "backoffice/customers/_customer_mandates.html",
            customer_mandates(request, customer),
        )
    return render(
        request, "backoffice/customers/customer_detail.html", customer_360(request, customer)
    )


@require_POST
@staff_permission_required("accounts.start_password_reset")
def start_card_password_reset(request, card_id: int):
    card = get_object_or_404(Card.objects.select_related("customer"), pk=card_id)
    back = request.POST.get("next", "")
    customer_page = reverse("customers:customer_detail", kwargs={"pk": card.customer_id})
    form = StartPasswordResetForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return redirect_to_next(back, customer_page)
    try:
        reset = form.start_reset(card=card, actor=request.user)
    except CardPasswordError as exc:
        messages.error(request, str(exc))
        return redirect_to_next(back, customer_page)
    minutes = settings.PASSWORD_RESET_LINK_TTL_SECONDS // 60
    channel = reset.get_delivery_channel_display()
    if reset.link_delivery.failed:
        messages.error(request, link_not_sent_message(channel))
        return redirect_to_next(back, customer_page)
    messages.success(
        request,
        _(
            "A single-use reset link was sent to the customer by %(channel)s "
            "(valid %(minutes)d minutes)."
        )
        % {"channel": channel, "minutes": minutes},
    )
    return redirect_to_next(back, customer_page)


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
    }
    context.update(_card_pause_actions(request, card, context["mandate_rows"]))
    return render(request, "backoffice/customers/card_detail.html", context)


def _card_pause_actions(request, card: Card, mandate_rows: list[dict]) -> dict:
    """The pauses in force for this card and the signed links that pause it or a mandate."""
    for row in mandate_rows:
        row["pause_token"] = mandate_target(row["mandate"]).token
    return {
        "pauses_in_force": [(p, pause_target_of(p)) for p in open_pauses_for_card(card)],
        "card_pause_token": card_target(card).token,
        "can_pause": request.user.has_perm("debits.pause_collection"),
    }


@require_POST
@staff_permission_required("debits.resync_mandate")
def resync_mandate_now(request, pk: int):
    mandate = get_object_or_404(Mandate.objects.select_related("card"), pk=pk)
    try:
        sync = resync_mandate(
            mandate=mandate, trigger=MandateSync.Trigger.MANUAL, actor=request.user
        )
    except MandateNotResyncable as exc:
        messages.error(request, translated(exc))
    else:
        if sync.outcome == MandateSync.Outcome.FAILED:
            messages.error(
                request,
                _("Re-sync of mandate %(mandate)s failed (%(error)s); try again in a moment.")
                % {
                    "mandate": mandate.reference,
                    "error": code_label(sync.error_code, "sync_error"),
                },
            )
        elif sync.outcome == MandateSync.Outcome.ALREADY_IN_SYNC:
            messages.info(
                request,
                _("Mandate %(mandate)s was already in sync.") % {"mandate": mandate.reference},
            )
        else:
            messages.success(
                request,
                _("Mandate %(mandate)s re-synced to credential version %(version)d.")
                % {"mandate": mandate.reference, "version": sync.target_credential_version},
            )
    card_page = reverse("customers:card_detail", kwargs={"pk": mandate.card_id})
    return redirect_to_next(request.POST.get("next", ""), card_page)


@staff_permission_required("accounts.view_customer", "accounts.reveal_customer_phone")
@require_http_methods(["GET", "POST"])
def reveal_phone(request, pk: int):
    """Shows a customer's full phone number once, for an audited reason."""
    customer = get_object_or_404(Customer, pk=pk)
    form = RevealPhoneForm(request.POST or None)
    phone = None
    if request.method == "POST" and form.is_valid():
        try:
            phone = reveal_customer_phone(
                customer=customer, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except StaffSecurityError as error:
            form.add_error("reason", translated(error))
    response = render(
        request,
        "backoffice/customers/reveal_phone.html",
        {"customer": customer, "form": form, "phone": phone},
    )
    response["Cache-Control"] = "no-store"
    return response


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
    return redirect("customers:password_reset_form")


def _reset_invalid(request, reason: str):
    # A clear page with 200: the customer did nothing wrong that a status code
    # would help with, and a 4xx would make Django log a warning for each one.
    request.session.pop(RESET_SESSION_KEY, None)
    return render(
        request,
        "backoffice/customers/password_reset_invalid.html",
        {"message": _(ResetLinkInvalid.MESSAGES[reason]), "reason": reason},
    )


@never_cache
@limit_by_client_address(RESET_LINK_PAGE, methods=("POST",))
def password_reset_form(request):
    fingerprint = request.session.get(RESET_SESSION_KEY, "")
    if not fingerprint:
        # Opened without a link (or after finishing): nothing failed, so a plain 200.
        return render(
            request,
            "backoffice/customers/password_reset_invalid.html",
            {"message": _("Open the link from the bank's message to set your card password.")},
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
            form.add_error("password", translated(exc))
        except ResetLinkInvalid as exc:
            return _reset_invalid(request, exc.reason)
        else:
            request.session.pop(RESET_SESSION_KEY, None)
            return render(
                request,
                "backoffice/customers/password_reset_done.html",
                {"last_four": reset.card.last_four},
            )
    return render(
        request,
        "backoffice/customers/password_reset_form.html",
        {"form": form, "last_four": reset.card.last_four, "kind": reset.get_kind_display()},
    )

"""Read queries for staff pages and the admin."""

from django.db import models
from django.db.models import Q, QuerySet

from accounts.models import Card, Customer
from accounts.pii import (
    card_number_fingerprint,
    national_id_fingerprint,
    normalise_card_number,
    search_fingerprints,
)


def search_customers(query: str) -> QuerySet[Customer]:
    """Customers matching a name, phone, card last four, full card number or national id.

    Also takes an ``fp:`` term (accounts.pii.fingerprint_search_term), the form a
    full card number or national id has in a search URL.

    Full identifiers are matched through their keyed fingerprints: the query
    value itself is never stored or logged.
    """
    query = query.strip()
    customers = Customer.objects.all()
    if not query:
        return customers.none()
    fingerprints = search_fingerprints(query)
    if fingerprints is not None:
        return (
            customers.filter(
                Q(cards__number_fingerprint__in=fingerprints)
                | Q(national_id_fingerprint__in=fingerprints)
            )
            .distinct()
            .order_by("full_name", "id")
        )
    digits = normalise_card_number(query)
    condition = Q(full_name__icontains=query)
    if digits and digits == query.replace(" ", ""):
        if len(digits) == 4:
            condition |= Q(cards__last_four=digits)
        if len(digits) >= 13:
            condition |= Q(cards__number_fingerprint=card_number_fingerprint(digits))
        if len(digits) >= 7:
            condition |= Q(phone__startswith=digits)
    if len(query) >= 15:
        condition |= Q(national_id_fingerprint=national_id_fingerprint(query))
    return customers.filter(condition).distinct().order_by("full_name", "id")


def search_cards(query: str) -> QuerySet[Card]:
    """Cards matching a last four, a full card number, or any customer search term."""
    query = query.strip()
    if not query:
        return Card.objects.none()
    fingerprints = search_fingerprints(query)
    if fingerprints is not None:
        return Card.objects.filter(
            Q(number_fingerprint__in=fingerprints)
            | Q(customer__national_id_fingerprint__in=fingerprints)
        )
    digits = normalise_card_number(query)
    condition = Q(customer__in=search_customers(query).order_by().values("pk"))
    if digits and digits == query.replace(" ", ""):
        if len(digits) == 4:
            condition = Q(last_four=digits)
        elif len(digits) >= 13:
            # A full card number finds that card only, not the customer's other cards.
            condition = Q(number_fingerprint=card_number_fingerprint(digits)) | Q(
                customer__national_id_fingerprint=national_id_fingerprint(digits)
            )
    return Card.objects.filter(condition)


# --- Customer and card credential pages ------------------------------------------


def customer_for_staff(customer_id: int) -> Customer:
    """A customer with their cards, for the customer page (two queries)."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        Customer.objects.prefetch_related(
            models.Prefetch("cards", queryset=Card.objects.order_by("-created_at", "-id"))
        ),
        pk=customer_id,
    )


def card_credential_overview(card: Card) -> dict:
    """What staff may know about a card's passwords: never a hash, never a token."""
    from accounts.models import (
        CardAuthenticator,
        CardCredential,
        CredentialKind,
        PasswordChange,
        PasswordResetRequest,
    )

    credentials = {
        credential.kind: credential
        for credential in CardCredential.objects.filter(card=card).only(
            "kind", "failed_attempts", "locked_at", "changed_at", "card_id"
        )
    }
    changes = list(
        PasswordChange.objects.filter(card=card)
        .select_related("actor")
        .order_by("-changed_at", "-id")[:20]
    )
    resets = list(
        PasswordResetRequest.objects.filter(card=card)
        .select_related("requested_by", "approved_by")
        .defer("token_fingerprint")
        .order_by("-created_at", "-id")[:10]
    )
    last_transaction_change = next(
        (c for c in changes if c.kind == CardCredential.Kind.TRANSACTION), None
    )
    authenticators = {
        authenticator.kind: authenticator
        for authenticator in CardAuthenticator.objects.filter(card=card).only(
            "kind", "state", "enrolled_at", "changed_at", "removed_at", "card_id"
        )
    }
    return {
        "credentials": [
            {
                "kind": kind,
                "label": label,
                "credential": credentials.get(kind),
                "binds_mandates": CredentialKind.binds_mandates(kind),
            }
            for kind, label in CardCredential.Kind.choices
        ],
        # Biometrics and the bound device: each kind's state, enrolled or not.
        "authenticators": [
            {
                "kind": kind,
                "label": label,
                "authenticator": authenticators.get(kind),
                "binds_mandates": CredentialKind.binds_mandates(kind),
            }
            for kind, label in CardAuthenticator.Kind.choices
        ],
        "changes": changes,
        "last_change": changes[0] if changes else None,
        "last_transaction_change": last_transaction_change,
        "resets": resets,
    }

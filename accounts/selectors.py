"""Read queries for staff pages and the admin."""

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Collate

from accounts.models import Card, Customer
from accounts.pii import (
    card_number_fingerprint,
    national_id_fingerprint,
    normalise_card_number,
    search_fingerprints,
)

# --- The staff search box ------------------------------------------------------------
# Each kind of search is one indexed condition (accounts/migrations/0010 for the
# PostgreSQL indexes); a query that could be two kinds (18 digits: a card number or
# a national id) is a UNION of them, never an OR across tables, which would make
# PostgreSQL read the whole customer table. Names match from their start: staff
# type the name the caller gives, or the surname alone.

# A card's last four, or a caller's phone ending, after a name: "张伟 5678".
_NAME_AND_LAST_FOUR = re.compile(r"(?P<name>.*?\D)\s*(?P<last_four>[0-9]{4})")


def _c_collated(field: str) -> Collate:
    # Byte order: the collation the name and phone indexes are built under.
    return Collate(field, "C" if connection.vendor == "postgresql" else "BINARY")


def _customers_with_ids(*id_querysets: QuerySet) -> QuerySet[Customer]:
    ids = id_querysets[0]
    if len(id_querysets) > 1:
        ids = ids.union(*id_querysets[1:])
    return Customer.objects.filter(pk__in=ids)


def _customer_ids_by_fingerprints(fingerprints: list[str]) -> QuerySet[Customer]:
    return _customers_with_ids(
        Card.objects.filter(number_fingerprint__in=fingerprints).values("customer_id"),
        Customer.objects.filter(national_id_fingerprint__in=fingerprints).values("id"),
    )


def search_kind(query: str) -> str:
    """Which search a query is: fingerprint, card_last_four, phone, card_number,
    national_id, name_and_phone_last_four or name (for the page and the benchmark)."""
    query = query.strip()
    if search_fingerprints(query) is not None:
        return "fingerprint"
    compact = query.replace(" ", "").replace("-", "")
    if compact.isdigit():
        if len(compact) == 4:
            return "card_last_four"
        if 7 <= len(compact) <= 12:
            return "phone"
        if len(compact) >= 13:
            return "card_number"
        return "name"
    if len(compact) >= 15 and compact[:-1].isdigit():
        return "national_id"
    if _NAME_AND_LAST_FOUR.fullmatch(query):
        return "name_and_phone_last_four"
    return "name"


def search_customers(query: str) -> QuerySet[Customer]:
    """Customers matching a name (from its start), a name and the last four of their
    phone, a phone (in full or its first seven digits and more), a card last four, a
    full card number or national id; ordered by name.

    Also takes an ``fp:`` term (accounts.pii.fingerprint_search_term), the form a
    full card number or national id has in a search URL.

    Full identifiers are matched through their keyed fingerprints: the query
    value itself is never stored or logged. Every kind reads an index; page it
    with a slice (the page and one more row), never count it.
    """
    query = query.strip()
    kind = search_kind(query)
    compact = query.replace(" ", "").replace("-", "")
    if not query:
        customers = Customer.objects.none()
    elif kind == "fingerprint":
        customers = _customer_ids_by_fingerprints(search_fingerprints(query))
    elif kind == "card_last_four":
        customers = _customers_with_ids(
            Card.objects.filter(last_four=compact).values("customer_id")
        )
    elif kind == "phone":
        customers = (
            Customer.objects.filter(phone=compact)
            if len(compact) == 11
            else Customer.objects.alias(phone_c=_c_collated("phone")).filter(
                phone_c__startswith=compact
            )
        )
    elif kind == "card_number":
        fingerprints = [card_number_fingerprint(compact)]
        if len(compact) in (15, 18):  # an old or a current national id, too
            fingerprints.append(national_id_fingerprint(compact))
        customers = _customer_ids_by_fingerprints(fingerprints)
    elif kind == "national_id":
        customers = Customer.objects.filter(
            national_id_fingerprint=national_id_fingerprint(compact)
        )
    elif kind == "name_and_phone_last_four":
        parts = _NAME_AND_LAST_FOUR.fullmatch(query)
        customers = Customer.objects.alias(name_c=_c_collated("full_name")).filter(
            phone_last_four=parts["last_four"], name_c__startswith=parts["name"].strip()
        )
    else:
        customers = Customer.objects.alias(name_c=_c_collated("full_name")).filter(
            name_c__startswith=query
        )
    return customers.order_by(_c_collated("full_name"), "id")


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


# --- The customer 360° page ------------------------------------------------------------


def customer_cards(customer: Customer) -> QuerySet[Card]:
    """The customer's cards, newest first: the order of the customer page."""
    return Card.objects.filter(customer=customer).order_by("-created_at", "-id")


def customer_cards_overview(customer: Customer) -> list[dict]:
    """Each card of the customer with its credential kinds, version and last change.

    Four queries however many cards: cards, passwords, biometrics and bound devices,
    and each card's last credential change (the newest per card, by a subquery).
    """
    from django.db.models import OuterRef, Subquery

    from accounts.models import CardAuthenticator, CardCredential, PasswordChange

    newest_change = PasswordChange.objects.filter(card=OuterRef("pk")).order_by(
        "-changed_at", "-id"
    )
    cards = list(
        customer_cards(customer).annotate(last_change_id=Subquery(newest_change.values("id")[:1]))
    )
    for card in cards:
        card.customer = customer  # the customer is loaded already: no query per card
    card_ids = [card.pk for card in cards]
    credentials: dict[int, dict] = {}
    for credential in CardCredential.objects.filter(card_id__in=card_ids).only(
        "kind", "failed_attempts", "locked_at", "changed_at", "card_id"
    ):
        credentials.setdefault(credential.card_id, {})[credential.kind] = credential
    authenticators: dict[int, dict] = {}
    for authenticator in CardAuthenticator.objects.filter(card_id__in=card_ids).only(
        "kind", "state", "enrolled_at", "changed_at", "removed_at", "card_id"
    ):
        authenticators.setdefault(authenticator.card_id, {})[authenticator.kind] = authenticator
    changes = PasswordChange.objects.filter(
        pk__in=[card.last_change_id for card in cards if card.last_change_id]
    ).select_related("actor")
    last_change = {change.card_id: change for change in changes}
    return [
        {
            "card": card,
            "credentials": [
                (label, credentials.get(card.pk, {}).get(kind))
                for kind, label in CardCredential.Kind.choices
            ],
            "authenticators": [
                (label, authenticators.get(card.pk, {}).get(kind))
                for kind, label in CardAuthenticator.Kind.choices
            ],
            "last_change": last_change.get(card.pk),
        }
        for card in cards
    ]

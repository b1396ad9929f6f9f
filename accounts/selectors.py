"""Read queries for staff pages and the admin."""

from django.db.models import Q, QuerySet

from accounts.models import Card, Customer
from accounts.pii import card_number_fingerprint, national_id_fingerprint, normalise_card_number


def search_customers(query: str) -> QuerySet[Customer]:
    """Customers matching a name, phone, card last four, full card number or national id.

    Full identifiers are matched through their keyed fingerprints: the query
    value itself is never stored or logged.
    """
    query = query.strip()
    customers = Customer.objects.all()
    if not query:
        return customers.none()
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

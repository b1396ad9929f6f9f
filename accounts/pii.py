"""Masking and keyed fingerprints for card numbers, national ids and phones.

A fingerprint is an HMAC-SHA256 under ``PII_FINGERPRINT_KEY``: equal inputs give
equal fingerprints (so staff can search by a full number they are told) but the
database never holds anything from which the number can be read back without
the key, which lives outside it.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.utils.translation import gettext

_DIGITS = re.compile(r"\D")


def _fingerprint(kind: str, value: str) -> str:
    key = settings.PII_FINGERPRINT_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalise_card_number(number: str) -> str:
    return _DIGITS.sub("", number)


def card_number_fingerprint(number: str) -> str:
    return _fingerprint("card", normalise_card_number(number))


def card_network_reference(number_fingerprint: str) -> str:
    """The opaque reference by which the payment network knows one of our cards.

    Derived from the card's fingerprint under its own label, so neither the
    number nor the fingerprint staff search by leaves the bank, and stable for
    the card's life: every agreement of the card carries it, and a
    credential-change notice names it.
    """
    return "card-" + _fingerprint("network_card", number_fingerprint)[:40]


def normalise_national_id(national_id: str) -> str:
    return national_id.strip().replace(" ", "").upper()


def national_id_fingerprint(national_id: str) -> str:
    return _fingerprint("national_id", normalise_national_id(national_id))


def mask_national_id(national_id: str) -> str:
    """Keeps the first six (region) and last four characters: 110105********1234."""
    value = normalise_national_id(national_id)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def phone_fingerprint(phone: str) -> str:
    return _fingerprint("phone", _DIGITS.sub("", phone))


def mask_phone(phone: str) -> str:
    """138****5678: the carrier prefix and last four, as Chinese banks print it."""
    digits = _DIGITS.sub("", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_account_number(number: str) -> str:
    """6217 **** **** 0042: how a settlement account (a debit card) is shown on a mandate."""
    digits = normalise_card_number(number)
    return f"{digits[:4]} **** **** {digits[-4:]}"


def looks_like_card_number(text: str) -> bool:
    return len(normalise_card_number(text)) >= 13 and text.replace(" ", "").isdigit()


def mask_search_text(text: str) -> str:
    """What a page may echo of a search: full card numbers, national ids and phones masked."""
    if search_fingerprints(text) is not None:
        return gettext("the full card number or national id searched for")
    compact = text.replace(" ", "").replace("-", "")
    if len(compact) == 18 and compact[:17].isdigit():
        return mask_national_id(compact)
    if compact.isdigit() and len(compact) >= 13:
        return f"•••• {compact[-4:]}"
    if compact.isdigit() and len(compact) == 11:
        return mask_phone(compact)
    return text


# A search by a full card number or national id travels in URLs as ``fp:`` and the
# keyed fingerprints it could be (an 18-digit number may be either): the URL, the
# browser history and every access log see only the fingerprints.
FINGERPRINT_SEARCH_PREFIX = "fp:"
_FINGERPRINT_SEARCH = re.compile(r"fp:([0-9a-f]{64}(?:,[0-9a-f]{64})*)")


def fingerprint_search_term(query: str) -> str:
    """``fp:<hex>[,<hex>]`` for a full card number or national id; otherwise the query itself."""
    query = query.strip()
    compact = query.replace(" ", "").replace("-", "")
    fingerprints = []
    if compact.isdigit() and 13 <= len(compact) <= 19:
        fingerprints.append(card_number_fingerprint(compact))
    if len(compact) == 18 and compact[:17].isdigit() and compact[17] in "0123456789Xx":
        fingerprints.append(national_id_fingerprint(compact))
    if not fingerprints:
        return query
    return FINGERPRINT_SEARCH_PREFIX + ",".join(fingerprints)


def search_fingerprints(term: str) -> list[str] | None:
    """The fingerprints of an ``fp:`` search term, or None when it is not one."""
    match = _FINGERPRINT_SEARCH.fullmatch(term.strip())
    return match[1].split(",") if match else None


def is_full_phone(text: str) -> bool:
    compact = text.strip().replace(" ", "").replace("-", "")
    return compact.isdigit() and len(compact) == 11


def authenticator_reference_fingerprint(kind: str, reference: str) -> str:
    """A biometric template id or bound device id, kept only as a keyed fingerprint."""
    return _fingerprint(f"authenticator:{kind}", reference.strip())

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

_DIGITS = re.compile(r"\D")


def _fingerprint(kind: str, value: str) -> str:
    key = settings.PII_FINGERPRINT_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalise_card_number(number: str) -> str:
    return _DIGITS.sub("", number)


def card_number_fingerprint(number: str) -> str:
    return _fingerprint("card", normalise_card_number(number))


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


def mask_phone(phone: str) -> str:
    """138****5678: the carrier prefix and last four, as Chinese banks print it."""
    digits = _DIGITS.sub("", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def looks_like_card_number(text: str) -> bool:
    return len(normalise_card_number(text)) >= 13 and text.replace(" ", "").isdigit()


def mask_search_text(text: str) -> str:
    """What a page may echo of a search: full card numbers, national ids and phones masked."""
    compact = text.replace(" ", "").replace("-", "")
    if len(compact) == 18 and compact[:17].isdigit():
        return mask_national_id(compact)
    if compact.isdigit() and len(compact) >= 13:
        return f"•••• {compact[-4:]}"
    if compact.isdigit() and len(compact) == 11:
        return mask_phone(compact)
    return text

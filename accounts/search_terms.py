"""What a search URL may carry: never a full card number, national id or phone.

A full card number or national id becomes ``fp:`` and its keyed fingerprints
(``accounts.pii.fingerprint_search_term``). A full phone, which no column
fingerprints, becomes ``fp:`` and the phone's keyed fingerprint too, and the
phone itself waits in the searcher's session under that fingerprint: only that
session can turn the URL back into the search, and the URL, browser history,
Referer headers and access logs see a fingerprint only. The admin's search
box and any admin URL that still holds a full identifier go through here.
"""

from accounts.pii import (
    FINGERPRINT_SEARCH_PREFIX,
    fingerprint_search_term,
    is_full_phone,
    normalise_card_number,
    phone_fingerprint,
    search_fingerprints,
)

PHONE_SEARCHES_SESSION_KEY = "search_phones_by_fingerprint"
# A few recent phone searches per session are enough for going back and forth.
MAX_HELD_PHONES = 5


def url_search_term(session, query: str) -> str:
    """The form of ``query`` that may appear in a URL (holding a full phone in ``session``)."""
    query = query.strip()
    if is_full_phone(query):
        digits = normalise_card_number(query)
        fingerprint = phone_fingerprint(digits)
        held = {k: v for k, v in session.get(PHONE_SEARCHES_SESSION_KEY, {}).items() if v != digits}
        held[fingerprint] = digits
        session[PHONE_SEARCHES_SESSION_KEY] = dict(list(held.items())[-MAX_HELD_PHONES:])
        return FINGERPRINT_SEARCH_PREFIX + fingerprint
    return fingerprint_search_term(query)


def search_for_url_term(session, term: str) -> str:
    """The search a URL term stands for: a phone fingerprint is the phone this session holds."""
    fingerprints = search_fingerprints(term)
    if fingerprints and len(fingerprints) == 1:
        phone = session.get(PHONE_SEARCHES_SESSION_KEY, {}).get(fingerprints[0])
        if phone:
            return phone
    return term


def holds_full_identifier(query: str) -> bool:
    return url_search_term({}, query) != query.strip() if query.strip() else False

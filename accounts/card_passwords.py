"""Hashing and checking card passwords (6 digits) under a server-side pepper.

Six digits are a million candidates: a plain argon2 hash of them falls to an
offline search in hours. Hashing ``HMAC(pepper, password)`` instead means a
stolen database is useless without the pepper, which is not in it.
"""

import hashlib
import hmac

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from django.conf import settings

# OWASP's argon2id floor is m=19 MiB, t=2, p=1; we stay above it on memory.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 32 * 1024
ARGON2_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)


def _peppered(password: str) -> bytes:
    return (
        hmac.new(settings.CARD_PIN_PEPPER.encode(), password.encode(), hashlib.sha256)
        .hexdigest()
        .encode()
    )


def hash_card_password(password: str) -> str:
    return _hasher.hash(_peppered(password))


def card_password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, _peppered(password))
    except (VerificationError, InvalidHashError):
        return False

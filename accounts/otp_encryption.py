"""Encryption of second-factor secrets at rest, with keys from the environment.

A TOTP shared secret lets anyone who reads it produce valid codes, so the
database keeps it only as a Fernet token (AES-128-CBC + HMAC-SHA256, from the
``cryptography`` library). ``OTP_ENCRYPTION_KEYS`` is a list: the first key
encrypts, every key decrypts (``MultiFernet``), so a key is rotated by putting
a new one first, running ``manage.py rotate_second_factor_keys`` and then
dropping the old one.

Backup codes are only ever compared, never shown again, so they are kept as
keyed digests (HMAC-SHA256 under a sub-key of each encryption key): a read of
the table alone cannot test guesses offline.
"""

import hashlib
import hmac
from base64 import urlsafe_b64decode, urlsafe_b64encode
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = [
    "InvalidToken",
    "backup_code_digest",
    "backup_code_digests",
    "decrypt_secret",
    "development_key",
    "encrypt_secret",
    "reencrypt_secret",
]


def development_key(secret_key: str) -> str:
    """A Fernet key derived from the development SECRET_KEY (DEBUG only, see settings)."""
    digest = hashlib.sha256(f"second-factor-encryption:{secret_key}".encode()).digest()
    return urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _keys() -> tuple[str, ...]:
    return tuple(settings.OTP_ENCRYPTION_KEYS)


def encrypt_secret(secret: bytes) -> str:
    return _fernet(_keys()).encrypt(secret).decode()


def decrypt_secret(token: str) -> bytes:
    """The secret; raises ``InvalidToken`` when no configured key opens it."""
    return _fernet(_keys()).decrypt(token.encode())


def reencrypt_secret(token: str) -> str:
    """The same secret encrypted under the first (newest) key."""
    return _fernet(_keys()).rotate(token.encode()).decode()


def _digest(key: str, code: str) -> str:
    subkey = hashlib.sha256(b"backup-code:" + urlsafe_b64decode(key)).digest()
    normalised = code.strip().replace(" ", "").lower()
    return hmac.new(subkey, normalised.encode(), hashlib.sha256).hexdigest()


def backup_code_digest(code: str) -> str:
    """What the database keeps of a new backup code (under the newest key)."""
    return _digest(_keys()[0], code)


def backup_code_digests(code: str) -> list[str]:
    """The digests ``code`` may be stored as, one per configured key (rotation)."""
    return [_digest(key, code) for key in _keys()]

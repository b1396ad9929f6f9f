"""Staff second-factor devices whose secrets are encrypted or hashed at rest.

django-otp's own ``TOTPDevice`` and ``StaticToken`` keep the TOTP key and the
backup codes in plain text, so a read of the database would pass the second
factor. These devices plug into django-otp the same way (``Device``
subclasses: ``django_otp.login``, ``OTPMiddleware`` and ``match_token`` find
them) but store:

- the TOTP key as a Fernet token (``accounts.otp_encryption``), decrypted only
  to compute a code;
- each backup code as a keyed digest, consumed by one conditional DELETE so a
  code works once even when two requests race.

The TOTP arithmetic (drift, tolerance, replay guard, throttling) is
django-otp's own ``TOTPDevice`` code, reused rather than copied.
"""

import os

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.otp_encryption import (
    backup_code_digest,
    backup_code_digests,
    decrypt_secret,
    encrypt_secret,
)

# RFC 4226 recommends 160-bit shared secrets, as django-otp's default.
TOTP_KEY_BYTES = 20


def new_encrypted_totp_key() -> str:
    """A fresh random TOTP key, already encrypted (the column's default)."""
    return encrypt_secret(os.urandom(TOTP_KEY_BYTES))


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's authenticator app (TOTP), its shared key encrypted at rest."""

    encrypted_key = models.TextField(default=new_encrypted_totp_key)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    # The time step of the last accepted code: a code is never accepted twice.
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "authenticator"

    @property
    def bin_key(self) -> bytes:
        return decrypt_secret(self.encrypted_key)

    def set_key(self, key: bytes) -> None:
        self.encrypted_key = encrypt_secret(key)

    # django-otp's TOTP verification and otpauth:// URI, which read only the
    # fields above and ``bin_key``.
    verify_token = TOTPDevice.verify_token
    config_url = TOTPDevice.config_url
    _read_str_from_settings = TOTPDevice._read_str_from_settings

    def get_throttle_factor(self):
        return TOTPDevice.get_throttle_factor(self)


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's single-use backup codes, kept only as keyed digests."""

    class Meta(Device.Meta):
        verbose_name = "backup codes"

    def get_throttle_factor(self):
        # The same back-off setting as django-otp's own backup codes.
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def add_codes(self, codes: list[str]) -> None:
        BackupCode.objects.bulk_create(
            BackupCode(device=self, code_digest=backup_code_digest(code)) for code in codes
        )

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        # One DELETE decides: of two requests with the same code, only one deletes it.
        used, _ = self.codes.filter(code_digest__in=backup_code_digests(str(token))).delete()
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save(
                update_fields=[
                    "throttling_failure_count",
                    "throttling_failure_timestamp",
                    "last_used_at",
                ]
            )
        else:
            self.throttle_increment()
        return bool(used)


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    # HMAC-SHA256 of the code under a sub-key of the encryption key (hex).
    code_digest = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"Backup code #{self.pk}"

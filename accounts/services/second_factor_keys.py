"""Rotating the key that encrypts authenticator secrets (``OTP_ENCRYPTION_KEYS``).

Put the new key first in ``OTP_ENCRYPTION_KEYS`` (the old one after it), run
``manage.py rotate_second_factor_keys``, then remove the old key. Backup codes
are digests and cannot be re-keyed: codes made under a removed key stop
working, so people get new ones when their factor is next reset.
"""

from django.db import transaction

from accounts.audit import AuditAction, record_audit_event
from accounts.models import AuthenticatorDevice, StaffUser
from accounts.otp_encryption import reencrypt_secret


@transaction.atomic
def rotate_second_factor_keys(*, actor: StaffUser | None = None) -> int:
    """Re-encrypt every authenticator secret under the newest key; returns how many."""
    rotated = 0
    for device in AuthenticatorDevice.objects.select_for_update().order_by("pk"):
        device.encrypted_key = reencrypt_secret(device.encrypted_key)
        device.save(update_fields=["encrypted_key"])
        rotated += 1
    record_audit_event(
        actor=actor,
        action=AuditAction.SECOND_FACTOR_KEYS_ROTATED,
        object_type="accounts.authenticatordevice",
        summary={"devices": rotated},
    )
    return rotated

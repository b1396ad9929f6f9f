"""Move every authenticator and backup code out of django-otp's plain-text tables.

Each ``otp_totp.TOTPDevice`` becomes an ``accounts.AuthenticatorDevice`` with
its key encrypted under ``OTP_ENCRYPTION_KEYS``, each ``otp_static`` backup
code an ``accounts.BackupCode`` digest; the plain-text rows are deleted. Staff
keep their authenticator app and their remaining backup codes (a session
verified before the move signs in with a code again). Reversing decrypts the
keys back; backup codes cannot be recovered from their digests, so a reversal
leaves people without them (an admin resets the factor).
"""

from binascii import hexlify, unhexlify

from django.db import migrations

DEVICE_FIELDS = (
    "user_id",
    "name",
    "confirmed",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "created_at",
    "last_used_at",
)
TOTP_FIELDS = ("step", "t0", "digits", "tolerance", "drift", "last_t")


def encrypt_second_factor_secrets(apps, schema_editor):
    from accounts.otp_encryption import backup_code_digest, encrypt_secret

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    StaticDevice = apps.get_model("otp_static", "StaticDevice")
    AuthenticatorDevice = apps.get_model("accounts", "AuthenticatorDevice")
    BackupCodeDevice = apps.get_model("accounts", "BackupCodeDevice")
    BackupCode = apps.get_model("accounts", "BackupCode")
    for old in TOTPDevice.objects.order_by("pk").iterator():
        AuthenticatorDevice.objects.create(
            encrypted_key=encrypt_secret(unhexlify(old.key.encode())),
            **{name: getattr(old, name) for name in DEVICE_FIELDS + TOTP_FIELDS},
        )
    TOTPDevice.objects.all().delete()
    for old in StaticDevice.objects.order_by("pk").iterator():
        device = BackupCodeDevice.objects.create(
            **{name: getattr(old, name) for name in DEVICE_FIELDS}
        )
        BackupCode.objects.bulk_create(
            BackupCode(device=device, code_digest=backup_code_digest(token.token))
            for token in old.token_set.all()
        )
    StaticDevice.objects.all().delete()


def decrypt_second_factor_secrets(apps, schema_editor):
    from accounts.otp_encryption import decrypt_secret

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    AuthenticatorDevice = apps.get_model("accounts", "AuthenticatorDevice")
    for device in AuthenticatorDevice.objects.order_by("pk").iterator():
        TOTPDevice.objects.create(
            key=hexlify(decrypt_secret(device.encrypted_key)).decode(),
            **{name: getattr(device, name) for name in DEVICE_FIELDS + TOTP_FIELDS},
        )
    AuthenticatorDevice.objects.all().delete()
    apps.get_model("accounts", "BackupCodeDevice").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_second_factor_devices"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        migrations.RunPython(encrypt_second_factor_secrets, decrypt_second_factor_secrets),
    ]

"""Second-factor secrets are encrypted (TOTP keys) or hashed (backup codes) at rest."""

import importlib
from binascii import hexlify

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuthenticatorDevice, BackupCode, BackupCodeDevice
from accounts.otp_encryption import InvalidToken, decrypt_secret
from accounts.services import confirm_totp_enrolment, start_totp_enrolment
from tests.factories import STAFF_PASSWORD, StaffUserFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("accounts.migrations.0004_encrypt_second_factor_secrets")


def code_for(key: bytes, step: int = 30) -> str:
    return f"{totp(key, step):06d}"


def _raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _sign_in(client: Client, user, code: str):
    client.post(reverse("login"), {"username": user.username, "password": STAFF_PASSWORD})
    return client.post(reverse("signin:verify"), {"otp_token": code})


def test_a_totp_key_in_the_database_is_not_the_key():
    staff = StaffUserFactory()
    enrolment = start_totp_enrolment(staff=staff)
    key = enrolment.device.bin_key
    stored = _raw_column(AuthenticatorDevice._meta.db_table, "encrypted_key", enrolment.device.pk)
    assert len(key) == 20
    for form in (key.hex(), key.hex().upper(), hexlify(key).decode()):
        assert form not in stored
    import base64

    assert base64.b32encode(key).decode().rstrip("=") not in stored
    assert decrypt_secret(stored) == key


def test_a_totp_key_cannot_be_read_with_another_encryption_key(settings):
    device = AuthenticatorDevice.objects.create(user=StaffUserFactory(), confirmed=True)
    settings.OTP_ENCRYPTION_KEYS = ["x" * 43 + "="]
    with pytest.raises(InvalidToken):
        decrypt_secret(device.encrypted_key)


def test_backup_codes_are_kept_only_as_keyed_digests():
    staff = StaffUserFactory()
    enrolment = start_totp_enrolment(staff=staff)
    _, codes = confirm_totp_enrolment(staff=staff, token=code_for(enrolment.device.bin_key))
    stored = set(BackupCode.objects.values_list("code_digest", flat=True))
    assert len(stored) == 10
    assert not stored & set(codes)
    assert all(len(digest) == 64 for digest in stored)
    assert not StaticToken.objects.exists()


def test_an_old_encryption_key_still_opens_secrets_after_a_new_one_is_put_first(settings):
    from cryptography.fernet import Fernet

    device = AuthenticatorDevice.objects.create(user=StaffUserFactory(), confirmed=True)
    key = device.bin_key
    settings.OTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.OTP_ENCRYPTION_KEYS]
    assert AuthenticatorDevice.objects.get(pk=device.pk).bin_key == key


def test_staff_sign_in_with_their_authenticator_and_backup_codes_after_the_migration():
    """Devices made by django-otp before the move keep working once encrypted."""
    from django.apps import apps

    staff = StaffUserFactory()
    plain_key = "3132333435363738393031323334353637383930"
    TOTPDevice.objects.create(user=staff, name="Authenticator app", key=plain_key, confirmed=True)
    backup = StaticDevice.objects.create(user=staff, name="Backup codes", confirmed=True)
    StaticToken.objects.create(device=backup, token="a1b2c3d4e5")

    MIGRATION.encrypt_second_factor_secrets(apps, None)

    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()
    device = AuthenticatorDevice.objects.get(user=staff)
    assert plain_key not in device.encrypted_key
    assert device.bin_key == bytes.fromhex(plain_key)
    assert BackupCodeDevice.objects.get(user=staff).codes.count() == 1

    by_code = _sign_in(Client(), staff, code_for(bytes.fromhex(plain_key)))
    assert by_code["Location"] == reverse("dashboard")
    by_backup = _sign_in(Client(), staff, "a1b2c3d4e5")
    assert by_backup["Location"] == reverse("dashboard")
    again = _sign_in(Client(), staff, "a1b2c3d4e5")
    assert again.status_code == 200  # the code worked once


def test_the_session_key_changes_when_the_second_factor_is_accepted(client):
    staff = StaffUserFactory()
    device = AuthenticatorDevice.objects.create(user=staff, confirmed=True)
    client.post(reverse("login"), {"username": staff.username, "password": STAFF_PASSWORD})
    before = client.session.session_key
    response = client.post(reverse("signin:verify"), {"otp_token": code_for(device.bin_key)})
    assert response["Location"] == reverse("dashboard")
    after = client.session.session_key
    assert before and after and before != after
    assert client.get(reverse("dashboard")).status_code == 200


def test_the_session_key_changes_when_an_authenticator_is_enrolled(client):
    staff = StaffUserFactory()
    client.post(reverse("login"), {"username": staff.username, "password": STAFF_PASSWORD})
    client.get(reverse("signin:enrol"))
    before = client.session.session_key
    device = AuthenticatorDevice.objects.get(user=staff, confirmed=False)
    done = client.post(reverse("signin:enrol"), {"otp_token": code_for(device.bin_key)})
    assert len(done.context["backup_codes"]) == 10
    assert client.session.session_key != before
    assert client.get(reverse("dashboard")).status_code == 200


def test_rotating_the_key_re_encrypts_every_secret_and_sign_in_keeps_working(settings, client):
    import io

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    staff = StaffUserFactory()
    device = AuthenticatorDevice.objects.create(user=staff, confirmed=True)
    key, old_token = device.bin_key, device.encrypted_key
    old_keys = list(settings.OTP_ENCRYPTION_KEYS)
    settings.OTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_second_factor_keys", stdout=io.StringIO())
    settings.OTP_ENCRYPTION_KEYS = settings.OTP_ENCRYPTION_KEYS[:1]  # the old key is gone
    device.refresh_from_db()
    assert device.encrypted_key != old_token
    assert device.bin_key == key
    assert _sign_in(client, staff, code_for(key))["Location"] == reverse("dashboard")

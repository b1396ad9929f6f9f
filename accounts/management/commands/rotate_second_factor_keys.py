"""``manage.py rotate_second_factor_keys``: re-encrypt authenticator secrets (newest key)."""

from django.core.management.base import BaseCommand

from accounts.services import rotate_second_factor_keys


class Command(BaseCommand):
    help = "Re-encrypt every authenticator secret under the first key of OTP_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        self.stdout.write(f"Re-encrypted {rotate_second_factor_keys()} authenticator secret(s).")

"""``manage.py create_demo_staff``: one demo login per role, passwords printed once."""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from demo.staff import create_demo_staff


class Command(BaseCommand):
    help = (
        "Create one demo staff login per role (agent, complaints officer, operations, "
        "supervisor, auditor, admin) and print each new password once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo logins new passwords and print them.",
        )

    def handle(self, *args, reset_passwords: bool, **options):
        try:
            logins = create_demo_staff(reset_passwords=reset_passwords)
        except Group.DoesNotExist as error:
            raise CommandError("role groups are missing; run `manage.py migrate` first") from error
        self.stdout.write("Demo staff logins (role, username, password):")
        shown = False
        for login in logins:
            if login.password:
                shown = True
                self.stdout.write(
                    f"  {login.role.value:<20} {login.user.username:<18} {login.password}"
                )
                if login.second_factor:
                    factor = login.second_factor
                    self.stdout.write(
                        f"  {'':<20} authenticator key: {factor.secret_base32}\n"
                        f"  {'':<20} otpauth URI: {factor.provisioning_uri}\n"
                        f"  {'':<20} backup codes: {' '.join(factor.backup_codes[:3])}"
                    )
            else:
                self.stdout.write(
                    f"  {login.role.value:<20} {login.user.username:<18} "
                    "(exists; password not shown again)"
                )
        if shown:
            self.stdout.write(
                "Demo staff passwords, authenticator keys and backup codes are shown only "
                "now. Add the key (or the otpauth URI) to an authenticator app, or sign in "
                "with a backup code (each works once). "
                "Run with --reset-passwords to choose new ones."
            )
        else:
            self.stdout.write(
                "Demo staff logins already exist; use --reset-passwords for new ones."
            )

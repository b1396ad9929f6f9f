"""``manage.py break_glass``: a time-limited superuser, approved by a second person.

    manage.py break_glass alice --approved-by bob --minutes 60 --reason "..."
    manage.py break_glass --end alice

The approver types their current authenticator code when asked (never on the
command line, where shell history would keep it). Everything is audited.
"""

from getpass import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts.models import StaffUser
from accounts.services.break_glass import (
    BreakGlassRefused,
    close_break_glass,
    end_expired_break_glass,
    open_break_glass,
)


class Command(BaseCommand):
    help = "Open (or end) a time-limited, approved, audited superuser grant for one person."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--approved-by", help="Username of the second person approving.")
        parser.add_argument("--minutes", type=int, default=60)
        parser.add_argument("--reason", default="")
        parser.add_argument("--end", action="store_true", help="End the grant of USERNAME now.")
        parser.add_argument(
            "--end-expired", action="store_true", help="Demote every superuser whose time is up."
        )

    def handle(self, *args, username, approved_by, minutes, reason, end, end_expired, **options):
        if end_expired:
            self.stdout.write(f"Ended {end_expired_break_glass()} break-glass grant(s).")
            return
        if not username:
            raise CommandError("Name the person (USERNAME).")
        staff = StaffUser.objects.filter(username=username).first()
        if staff is None:
            raise CommandError(f"No staff member {username}.")
        if end:
            ended = close_break_glass(staff=staff, why="ended by command")
            self.stdout.write("Ended." if ended else f"{username} had no superuser rights.")
            return
        approver = StaffUser.objects.filter(username=approved_by or "").first()
        if approver is None:
            raise CommandError("--approved-by must name the second person approving.")
        code = getpass(f"{approver.username}, your current authenticator code: ")
        try:
            grant = open_break_glass(
                staff=staff, approver=approver, approver_code=code, reason=reason, minutes=minutes
            )
        except BreakGlassRefused as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{username} is a superuser until {grant.expires_at:%Y-%m-%d %H:%M %Z}; "
            "every request they make is audited."
        )

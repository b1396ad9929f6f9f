"""python manage.py reconcile [--only KIND] [--dry-run]: find drift, repair, alert."""

from django.core.management.base import BaseCommand, CommandError

from debits.services.reconciliation import DETECTOR_NAMES, run_reconciliation


class Command(BaseCommand):
    help = (
        "Run the reconciliation detectors: each finds drift, repairs what it can and "
        "raises or resolves one deduplicated alert for what it cannot."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=DETECTOR_NAMES, help="run one detector")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what each detector finds; change nothing"
        )

    def handle(self, *args, only=None, dry_run=False, **options):
        try:
            reports = run_reconciliation(only=only, dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for report in reports:
            self.stdout.write(
                f"{report.detector:<20} found {report.found:>7}  repaired {report.repaired:>7}  "
                f"alerts raised {report.alerts_raised:>3}  resolved {report.alerts_resolved:>3}"
                + ("  (dry run)" if report.dry_run else "")
            )
            for note in report.notes[:20]:
                self.stdout.write(f"    {note}")

"""Start a debit run from the shell.

``manage.py run_debits [--date YYYY-MM-DD] [--dry-run] [--wait]``
"""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from debits.models import DebitRun
from debits.services import DebitRunError, run_debit_job

# How often --wait looks at the run's counters while the workers collect.
POLL_SECONDS = 0.5


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = "Select the instalments due on a date and hand them to the debit workers."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run date, YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Select and record skips; collect nothing"
        )
        parser.add_argument(
            "--kind",
            default=DebitRun.Kind.MANUAL,
            choices=DebitRun.Kind.values,
            help="scheduled (once per day), retry or manual (default)",
        )
        parser.add_argument(
            "--wait", action="store_true", help="Show progress until the workers finish"
        )
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds --wait waits at most"
        )

    def handle(self, *args, **options):
        on_date = _parse_date(options["date"]) if options["date"] else timezone.localdate()
        try:
            run = run_debit_job(on_date=on_date, kind=options["kind"], dry_run=options["dry_run"])
        except DebitRunError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Debit run #{run.pk} for {run.run_date} ({run.get_kind_display()}"
            f"{', dry run' if run.dry_run else ''}): {run.selected_count} selected, "
            f"{run.skipped_count} skipped, {run.chunks_total} chunks"
        )
        if options["wait"] and run.state == DebitRun.State.RUNNING:
            run = self._wait(run, timeout=options["timeout"])
        self._summary(run)

    def _wait(self, run: DebitRun, *, timeout: float) -> DebitRun:
        deadline = time.monotonic() + timeout
        with tqdm(total=run.chunks_total, unit="chunk", file=self.stderr._out) as bar:
            while True:
                run.refresh_from_db()
                bar.update(min(run.chunks_done, run.chunks_total) - bar.n)
                bar.set_postfix(ok=run.succeeded_count, failed=run.failed_count)
                if run.state != DebitRun.State.RUNNING:
                    return run
                if time.monotonic() > deadline:
                    raise CommandError(f"Run #{run.pk} still running after {timeout:.0f} s")
                time.sleep(POLL_SECONDS)

    def _summary(self, run: DebitRun) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Run #{run.pk} {run.get_state_display().lower()}: "
                f"{run.succeeded_count} succeeded, {run.failed_count} failed, "
                f"{run.unknown_count} unknown, {run.skipped_count} skipped"
            )
        )

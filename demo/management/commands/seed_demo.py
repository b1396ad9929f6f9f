"""``manage.py seed_demo``: a realistic, deterministic demo book, written once."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from demo.book import MAX_DEMO_CUSTOMERS, book_is_empty, seed_demo_book
from demo.complaints import seed_demo_complaints
from demo.stories import seed_demo_stories


class Command(BaseCommand):
    help = (
        "Seed a demo book: customers with cards, car loans, instalment schedules and "
        "active mandates (and the gateway simulator's matching agreements)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300, help="How many (default 300).")
        parser.add_argument(
            "--seed", type=int, default=20240601, help="Same seed, same book (default 20240601)."
        )
        parser.add_argument(
            "--complaints",
            action="store_true",
            help="Also log a few complaints in each state, the first the password-change case.",
        )
        parser.add_argument(
            "--stories",
            action="store_true",
            help=(
                "Also tell the demo's stories (implies --complaints): a stale debit after a "
                "password change, an outage, a customer out of funds, a waiver awaiting "
                "approval, an open alert. Told once: running again changes nothing."
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (and succeed) when the database already holds a book.",
        )

    def handle(
        self,
        *args,
        customers: int,
        seed: int,
        if_empty: bool,
        complaints: bool = False,
        stories: bool = False,
        **options,
    ):
        if not 1 <= customers <= MAX_DEMO_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {MAX_DEMO_CUSTOMERS:,}")
        if seed < 0:
            raise CommandError("--seed must be zero or a positive integer")
        if not book_is_empty():
            if if_empty:
                self.stdout.write("Demo data already exists; nothing to do.")
                if stories:
                    self._tell_stories()
                self._take_snapshot()
                return
            raise CommandError(
                "the database already holds customers; refusing to seed twice "
                "(use --if-empty to skip quietly)"
            )

        with tqdm(
            total=customers, unit="customer", file=sys.stderr, disable=options["verbosity"] < 1
        ) as bar:
            report = seed_demo_book(customers=customers, seed=seed, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {report.customers:,} customers with cards, loans and mandates; "
                f"{report.instalments:,} instalments ({report.paid:,} paid, "
                f"{report.due_this_week:,} due this week)."
            )
        )
        if stories:
            self._tell_stories()
        elif complaints:
            logged = seed_demo_complaints()
            self.stdout.write(self.style.SUCCESS(f"Logged {len(logged.complaints)} complaints."))
        self._take_snapshot()

    def _take_snapshot(self):
        # The landing page's counts and the dashboard's days of collections come from
        # the snapshot beat takes every quarter hour: the demo shows them at once.
        from debits.services import take_operations_snapshot

        take_operations_snapshot()
        self.stdout.write(self.style.SUCCESS("Took the operations snapshot the dashboards read."))

    def _tell_stories(self):
        told = seed_demo_stories()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo stories: {len(told.complaints)} complaints; look up "
                + ", ".join(
                    f"{customer.full_name} ({case})"
                    for case, customer in told.by_case().items()
                    if customer is not None
                )
                + "."
            )
        )

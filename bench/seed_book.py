"""Seeding a bank-sized book: rows per second per table, wall time and peak memory.

Creates (fresh) and migrates its own PostgreSQL database, then times
``demo.load_book.seed_book``: N customers with cards, credentials, loans and
their whole schedules, bound mandates and the simulated network's agreements,
the first ``--due`` of them falling due on ``--on-date`` (month-end by default).
Migrations are not timed. Prints the figures and the command reproducing them.

    .venv/bin/python bench/seed_book.py --customers 1000000
    .venv/bin/python bench/seed_book.py --customers 20000 --workers 1

Figures on a shared machine are noisy: run it when nothing else is busy.
"""

import argparse
import calendar
import datetime as dt
import os
import platform
import resource
import shlex
import sys
import time
from zoneinfo import ZoneInfo

from bench_support import prepare_database

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_benchsuite_book"
# The bank's day (settings.TIME_ZONE), before Django is set up.
BANK_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--due", type=int, help="loans falling due on --on-date (default: every customer's)"
    )
    parser.add_argument(
        "--on-date",
        type=dt.date.fromisoformat,
        default=month_end(dt.datetime.now(BANK_TIME_ZONE).date()),
        help="the day the book stands on and the due loans fall due (default: month-end)",
    )
    parser.add_argument("--workers", type=int, default=2, help="seeding processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="seed into the existing database (default: drop and re-create it first)",
    )
    options = parser.parse_args(argv)
    if options.customers < 1 or options.workers < 1:
        parser.error("--customers and --workers must be at least 1")
    if options.due is None:
        options.due = options.customers
    if not 0 <= options.due <= options.customers:
        parser.error("--due must be between 0 and --customers")
    return options


def reproduce_command(options: argparse.Namespace) -> str:
    command = [
        ".venv/bin/python",
        "bench/seed_book.py",
        "--customers",
        str(options.customers),
        "--due",
        str(options.due),
        "--on-date",
        options.on_date.isoformat(),
        "--workers",
        str(options.workers),
    ]
    if options.database_url != DEFAULT_DB:
        command += ["--database-url", options.database_url]
    return shlex.join(command)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    os.environ["DATABASE_URL"] = options.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    prepare_database(options.database_url, fresh=not options.keep)

    from django.db import connection
    from tqdm import tqdm

    from debits.models import Instalment
    from demo.book_seeder import BookSeedingError
    from demo.load_book import seed_book

    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        with tqdm(total=options.customers, unit="customer", desc="seeding", file=sys.stderr) as bar:
            report = seed_book(
                options.customers,
                due=options.due,
                on_date=options.on_date,
                seed=options.seed,
                workers=options.workers,
                # The benchmark's own database: nobody else writes to it meanwhile.
                build_indexes_after=True,
                progress=bar.update,
            )
    except BookSeedingError as exc:
        print(f"seed_book: {exc}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - started
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    due_now = Instalment.objects.filter(
        state__in=Instalment.OPEN_STATES, due_date__lte=options.on_date
    ).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size_bytes = cursor.fetchone()[0]

    print()
    print(
        f"seed_book: {options.customers:,} customers, {options.due:,} due on "
        f"{options.on_date}, {options.workers} process(es), PostgreSQL"
    )
    print(f"  {'table':<36}{'rows':>13}{'seconds':>10}{'rows/s':>12}")
    for table, figures in report.tables.items():
        rate = f"{figures.rows / figures.seconds:,.0f}" if figures.rows and figures.seconds else ""
        rows = f"{figures.rows:,}" if figures.rows else ""
        print(f"  {table:<36}{rows:>13}{figures.seconds:>10.1f}{rate:>12}")
    print(f"  {'all rows':<36}{report.rows:>13,}{wall:>10.1f}{report.rows / wall:>12,.0f}")
    print(f"  wall time:      {wall:.1f} s ({options.customers / wall:,.0f} customers/s)")
    print(
        f"  peak memory:    {self_kib / 1024:.0f} MiB in this process "
        f"({before_kib / 1024:.0f} MiB before seeding), "
        f"{children_kib / 1024:.0f} MiB in the largest seeding process (max RSS)"
    )
    print(f"  due on {options.on_date}: {due_now:,} open instalments (the run's selection)")
    print(f"  database size:  {size_bytes / 2**30:.2f} GiB")
    print(
        f"  machine:        {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(f"  reproduce:      {reproduce_command(options)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Re-sync latency while the month-end debit run is going on: does it stay real-time?

Seeds a load book (``demo.load_book.seed_book``) of ``--instalments`` customers,
each with one instalment due today, in its own database (default
bo_benchsuite_resync), starts two worker pools as production runs them - one
on the "debits" queue (``--debit-workers`` processes), one on the "resync"
queue (``--resync-concurrency``) - and starts the debit run. While the run is
collecting, it changes transaction passwords through ``change_card_password``
(one every ``--change-interval`` seconds, cards drawn across the book) and
times each from its commit to the moment every mandate of the card was bound
to the new credential version (``MandateSync.finished_at``; one host, one
clock). Prints p50/p95/p99/max of the changes made during the run, the run's
own throughput, and the command reproducing them.

    .venv/bin/python bench/resync_during_run.py --instalments 1000000
    .venv/bin/python bench/resync_during_run.py --instalments 20000 --gateway-latency-ms 20
"""

import argparse
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench_support import prepare_database
from resync_latency import percentile

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_benchsuite_resync"
DEFAULT_BROKER = "redis://127.0.0.1:6379/8"
# Six digits the policy accepts for any birth date of the book (no run, no
# repeat); the first one a customer's birthday does not rule out is used.
PASSWORDS = ("946381", "902716", "384917", "274916", "390581", "582039", "613847", "740259")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=1_000_000)
    parser.add_argument("--debit-workers", type=int, default=2, help="processes on 'debits'")
    parser.add_argument("--resync-concurrency", type=int, default=2, help="on 'resync'")
    parser.add_argument("--gateway-latency-ms", type=int, default=20)
    parser.add_argument("--changes", type=int, default=300, help="at most this many changes")
    parser.add_argument("--change-interval", type=float, default=0.2, help="seconds")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    if options.instalments < 1 or options.changes < 1 or options.debit_workers < 1:
        parser.error("--instalments, --changes and --debit-workers must be at least 1")
    if not options.database_url.startswith("postgres"):
        parser.error("this benchmark needs PostgreSQL (--database-url postgres://...)")
    return options


def change_password(card, rng: random.Random):
    """One change through the service; returns (card id, version, commit time) or None."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import CardCredential, Channel
    from accounts.services import CardPasswordError, change_card_password

    for password in rng.sample(PASSWORDS, len(PASSWORDS)):
        stamp: dict[str, datetime] = {}
        try:
            with transaction.atomic():
                # Registered before the service's dispatch: runs first, at commit.
                transaction.on_commit(lambda stamp=stamp: stamp.setdefault("at", timezone.now()))
                change = change_card_password(
                    card=card,
                    new_password=password,
                    kind=CardCredential.Kind.TRANSACTION,
                    actor=None,
                    channel=Channel.MOBILE_APP,
                )
        except CardPasswordError:
            continue  # this customer's birthday rules the password out
        return card.pk, change.credential_version, stamp["at"]
    return None


def latencies_ms(committed: list[tuple[int, int, datetime]]) -> list[float]:
    """Commit -> the last of the card's mandates bound at that version or later."""
    from debits.models import Mandate, MandateSync

    cards = {card_id for card_id, _, _ in committed}
    mandates_of: dict[int, list[int]] = {}
    for mandate_id, card_id in Mandate.objects.filter(card_id__in=cards).values_list(
        "pk", "card_id"
    ):
        mandates_of.setdefault(card_id, []).append(mandate_id)
    finished: dict[int, list[tuple[int, datetime]]] = {}
    for mandate_id, version, at in MandateSync.objects.filter(
        mandate__card_id__in=cards, outcome=MandateSync.Outcome.SUCCEEDED
    ).values_list("mandate_id", "target_credential_version", "finished_at"):
        finished.setdefault(mandate_id, []).append((version, at))
    result = []
    for card_id, version, at in committed:
        reached = [
            min(t for v, t in finished.get(mandate_id, []) if v >= version)
            for mandate_id in mandates_of[card_id]
        ]
        result.append((max(reached) - at) / timedelta(milliseconds=1))
    return sorted(result)


def main() -> int:
    options = parse_options()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": options.database_url,
            "CELERY_BROKER_URL": options.broker_url,
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "GATEWAY_SIMULATOR_LATENCY_MS": str(options.gateway_latency_ms),
            "NOTIFICATION_BACKEND": "accounts.notifications.RecordingNotificationBackend",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    os.environ.update(env)
    prepare_database(options.database_url, fresh=True)
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import Card, OutboxEvent
    from debits.models import DebitRun
    from debits.services import run_debit_job
    from demo.load_book import seed_book
    from tests.workers import WorkerProcess, purge_queues

    today = timezone.localdate()
    with tqdm(total=options.instalments, unit="customer", desc="seeding", file=sys.stderr) as bar:
        seed_book(
            options.instalments,
            due=options.instalments,
            on_date=today,
            seed=options.seed,
            workers=2,
            build_indexes_after=True,
            progress=bar.update,
        )
    rng = random.Random(options.seed)  # nosec B311 # reproducible choice of cards
    card_ids = list(Card.objects.values_list("pk", flat=True))
    purge_queues("debits", "resync")

    committed: list[tuple[int, int, datetime]] = []
    with tempfile.TemporaryDirectory(prefix="resync-during-run-") as tmp:
        pools = []
        try:
            pools.append(
                WorkerProcess(
                    queues="debits",
                    concurrency=options.debit_workers,
                    env=env,
                    log=Path(tmp) / "debits.log",
                    prefetch_multiplier=1,
                    stop_timeout=30,
                )
            )
            pools.append(
                WorkerProcess(
                    queues="resync",
                    concurrency=options.resync_concurrency,
                    env=env,
                    log=Path(tmp) / "resync.log",
                    stop_timeout=30,
                )
            )
        except RuntimeError as error:
            for pool in pools:
                pool.stop()
            raise SystemExit(str(error)) from None
        try:
            started = time.perf_counter()
            run = run_debit_job(on_date=today, kind=DebitRun.Kind.MANUAL)
            for card_id in rng.sample(card_ids, min(options.changes, len(card_ids))):
                run.refresh_from_db(fields=["state"])
                if run.state != DebitRun.State.RUNNING:
                    break
                change = change_password(Card.objects.get(pk=card_id), rng)
                if change:
                    committed.append(change)
                time.sleep(options.change_interval)
            while run.state == DebitRun.State.RUNNING:
                time.sleep(0.1)
                run.refresh_from_db(fields=["state"])
            run_seconds = time.perf_counter() - started
            deadline = time.monotonic() + 120
            while OutboxEvent.objects.filter(processed_at__isnull=True).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("not every change was re-synced within 2 minutes")
                time.sleep(0.2)
        finally:
            for pool in pools:
                pool.stop()

    run.refresh_from_db()
    command = shlex.join(
        [
            ".venv/bin/python",
            "bench/resync_during_run.py",
            *("--instalments", str(options.instalments)),
            *("--debit-workers", str(options.debit_workers)),
            *("--resync-concurrency", str(options.resync_concurrency)),
            *("--gateway-latency-ms", str(options.gateway_latency_ms)),
            *("--changes", str(options.changes)),
            *("--change-interval", str(options.change_interval)),
            *("--database-url", options.database_url),
            *("--broker-url", options.broker_url),
        ]
    )
    print()
    print(
        f"debit run over {options.instalments:,} due instalments, "
        f"{options.debit_workers} debit worker process(es), "
        f"{options.gateway_latency_ms} ms gateway latency: {run.succeeded_count:,} collected in "
        f"{run_seconds:.1f} s ({run.succeeded_count / run_seconds:,.0f}/s), state {run.state}"
    )
    if not committed:
        print("no password change fell inside the run: it ended too soon (seed a larger book)")
        print(f"reproduce: {command}")
        return 1
    latencies = latencies_ms(committed)
    p99 = percentile(latencies, 0.99)
    print(
        f"password changes during the run: {len(latencies)} "
        f"(resync pool: {options.resync_concurrency} on the 'resync' queue)"
    )
    print(
        f"commit -> every mandate of the card re-synced (ms): "
        f"p50 {percentile(latencies, 0.50):.1f}  p95 {percentile(latencies, 0.95):.1f}  "
        f"p99 {p99:.1f}  max {latencies[-1]:.1f}  mean {statistics.fmean(latencies):.1f}"
    )
    print(f"target p99 < 1000 ms during the run: {'met' if p99 < 1000 else 'NOT met'}")
    print(f"reproduce: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

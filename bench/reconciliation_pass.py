"""A full reconciliation pass: every active mandate against the network's agreements.

Creates (if missing) and migrates its own database (default bo_operations_bench),
seeds ``--mandates`` active mandates bound at the simulated network with bulk
inserts (``demo.load_book``, ten loans per card: a million mandates is a book of
100,000 customers; kept between invocations), spoils a few agreements on the
network's side (lost, another token), starts ``--workers`` worker processes
(one ``celery worker -c N`` on the default queue), then times
``reconcile_agreements(fan_out=True)`` from the call (which computes the keyset
chunk bounds) until the last chunk has reported, and prints the peak memory of
this process and of each worker process. Then the other detectors, inline, and
the operations dashboard rendered on the same book with its query count.

    .venv/bin/python bench/reconciliation_pass.py --mandates 100000
    .venv/bin/python bench/reconciliation_pass.py --mandates 1000000 --workers 2

Figures on a shared machine are noisy: run it when nothing else is busy.
"""

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_operations_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/9"


def seed(count: int) -> None:
    from django.utils import timezone
    from tqdm import tqdm

    from debits.models import Mandate
    from demo.load_book import seed_due_instalments

    have = Mandate.objects.count()
    if have >= count:
        return
    with tqdm(total=count - have, unit="mandate", desc="seeding") as bar:
        seed_due_instalments(
            count=count - have, due_date=timezone.localdate(), start=have, progress=bar.update
        )


def reset(spoil_every: int) -> int:
    """Undo an earlier run's repairs, then spoil every ``spoil_every``-th agreement at the
    network (half lost, half re-tokened). Returns how many were spoiled."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE debits_reconciliationpass, debits_mandatesync, debits_alert")
        # Re-bind at the network what an earlier run spoiled or repaired.
        cursor.execute(
            "INSERT INTO debits_simulatedagreement "
            "(mandate_reference, card_reference, token, credential_version, revoked, bound_at) "
            "SELECT m.reference, '', m.gateway_agreement_token, m.synced_credential_version, "
            "false, now() FROM debits_mandate m "
            "WHERE NOT EXISTS (SELECT 1 FROM debits_simulatedagreement a "
            "WHERE a.mandate_reference = m.reference)"
        )
        cursor.execute(
            "UPDATE debits_simulatedagreement a SET token = m.gateway_agreement_token, "
            "credential_version = m.synced_credential_version FROM debits_mandate m "
            "WHERE a.mandate_reference = m.reference AND a.token <> m.gateway_agreement_token"
        )
        if not spoil_every:
            cursor.execute("VACUUM ANALYZE")
            return 0
        cursor.execute(
            "DELETE FROM debits_simulatedagreement WHERE mandate_reference IN ("
            "SELECT reference FROM debits_mandate WHERE id %% %s = 0)",
            [2 * spoil_every],
        )
        lost = cursor.rowcount
        cursor.execute(
            "UPDATE debits_simulatedagreement SET token = 'spoiled-' || token "
            "WHERE mandate_reference IN (SELECT reference FROM debits_mandate "
            "WHERE id %% %s = %s)",
            [2 * spoil_every, spoil_every],
        )
        spoiled = lost + cursor.rowcount
        cursor.execute("VACUUM ANALYZE")
    return spoiled


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident memory) of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(root: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root:
                children.append(int(entry.name))
    return [root, *children]


def measure_pass(worker_pid: int) -> tuple[float, float, object, dict[int, float]]:
    """(seconds in all, seconds to plan the chunks, the pass, peak MB per worker process)."""
    from django.db import transaction

    from debits.models import ReconciliationPass
    from debits.services import reconcile_agreements

    peaks: dict[int, float] = {}
    started = time.perf_counter()
    with transaction.atomic():
        reconcile_agreements(fan_out=True)
    planned = time.perf_counter() - started
    run = ReconciliationPass.objects.order_by("-pk").first()
    while True:
        for pid in process_tree(worker_pid):
            peaks[pid] = max(peaks.get(pid, 0.0), peak_rss_mb(pid))
        run.refresh_from_db()
        if run.finished_at is not None:
            break
        time.sleep(0.2)
    return time.perf_counter() - started, planned, run, peaks


def dashboard_figures() -> tuple[int, float]:
    """(queries, seconds) to render the operations dashboard for an operator."""
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import StaffUser
    from tests.conftest import sign_in_verified

    user, _ = StaffUser.objects.get_or_create(username="bench-operations", is_staff=True)
    user.groups.add(Group.objects.get(name="operations"))
    client = sign_in_verified(Client(), user)
    client.get("/operations/")  # warm caches and the template loader
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get("/operations/")
        seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"dashboard answered {response.status_code}")
    return len(queries), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mandates", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--spoil-every", type=int, default=1000, help="spoil one agreement in this many (0: none)"
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    args = parser.parse_args()
    if args.mandates < 1 or args.workers < 1:
        parser.error("--mandates and --workers must be positive")

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "LOG_LEVEL": "WARNING",
            # The bench's own figures, not the dashboard's history, so no debug SQL log.
            "CONN_MAX_AGE": "0",
        }
    )
    from bench_support import prepare_database

    prepare_database(args.database_url, fresh=args.fresh)
    from tests.workers import WorkerProcess, purge_queues

    seed(args.mandates)
    spoiled = reset(args.spoil_every)
    purge_queues("default")
    logs = Path(tempfile.mkdtemp(prefix="reconciliation-bench-"))
    try:
        pool = WorkerProcess(
            queues="default",
            concurrency=args.workers,
            env=dict(os.environ, LOG_LEVEL="INFO"),
            log=logs / "worker.log",
            prefetch_multiplier=1,
            stop_timeout=30,
        )
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    try:
        seconds, planned, run, peaks = measure_pass(pool.process.pid)
    finally:
        pool.stop()

    from debits.services import run_reconciliation

    others = []
    for name in ("stale_mandates", "outbox", "attempts", "runs", "failure_rates",
                 "credential_changes"):  # fmt: skip
        started = time.perf_counter()
        run_reconciliation(only=name)
        others.append((name, time.perf_counter() - started))
    queries, dashboard_seconds = dashboard_figures()
    coordinator_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from accounts.models import Customer

    customers = Customer.objects.count()

    print()
    print(
        f"Full reconciliation pass: {run.checked:,} active mandates against the network's "
        f"agreements, {args.workers} worker process(es), PostgreSQL + Redis"
    )
    print(
        f"  {seconds:.1f} s in all ({run.checked / seconds:,.0f} mandates/s), of which "
        f"{planned:.1f} s planning {run.chunks_total:,} keyset chunks"
    )
    print(
        f"  spoiled at the network {spoiled:,}, found {run.mismatched:,}, "
        f"repaired {run.repaired:,}, not repaired {run.unrepaired:,}"
    )
    workers = ", ".join(f"pid {pid} {mb:.0f} MB" for pid, mb in sorted(peaks.items()))
    print(
        f"  peak memory: this process {coordinator_mb:.0f} MB (seeding included, when it "
        f"seeded); worker processes {workers}"
    )
    print("  other detectors, inline: " + ", ".join(f"{n} {s:.2f} s" for n, s in others))
    print(
        f"Operations dashboard on this book ({customers:,} customers): {queries} queries, "
        f"{dashboard_seconds * 1000:.0f} ms"
    )
    print()
    print("Reproduce with:")
    print("  " + shlex.join([".venv/bin/python", "bench/reconciliation_pass.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

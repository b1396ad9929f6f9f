"""Debit run throughput: instalments collected per second, PostgreSQL + Redis + real workers.

Creates (if missing) and migrates its own database (default bo_h3_bench), seeds
``--instalments`` due instalments with bulk inserts (kept between invocations),
then for each way of presenting (``--paths``: ``batch``, one ``collect_batch``
call per chunk; ``per_call``, one ``collect`` per instalment through the
gateway thread pool), each worker count (1, 2 and 4 worker processes: one
``celery worker -c N``) and each simulator latency (0 and 20 ms) resets the
book to due, starts the workers, calls ``run_debit_job`` and times it from the
call (which includes the streamed selection) until the last chunk is recorded.
SQL statements are counted in the workers (an execute wrapper on every
connection, ``bench/bench_worker.py``) and in this process (the selection),
per instalment collected. Beside it, a naive one-row-at-a-time ORM loop (read
instalment, save attempt, collect, save attempt, save instalment) is timed in
this process on a sample of the same book. Last, ``EXPLAIN (ANALYZE, BUFFERS)``
of each hot query (selection page, claim lock, claim insert, record and
mark-paid, the simulator's batch read and write) on the seeded book, rolled back.

    .venv/bin/python bench/debit_throughput.py
    .venv/bin/python bench/debit_throughput.py --instalments 100000 --workers 1,2,4

Figures on a shared machine are noisy: run it when nothing else is busy.
"""

import argparse
import datetime as dt
import os
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_h3_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/3"


def seed(count: int, today: dt.date) -> None:
    from tqdm import tqdm

    from debits.models import Instalment
    from demo.load_book import seed_due_instalments

    have = Instalment.objects.count()
    if have >= count:
        return
    with tqdm(total=count - have, unit="instalment", desc="seeding") as bar:
        seed_due_instalments(count=count - have, due_date=today, start=have, progress=bar.update)


def reset_book(due: int, today: dt.date) -> None:
    """The first ``due`` instalments due again and nothing collected; the rest paid."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE debits_debitattempt, debits_skippedinstalment, debits_debitrun, "
            "debits_simulatedcollection, debits_simulatedpresentation, debits_latefee CASCADE"
        )
        cursor.execute("SELECT id FROM debits_instalment ORDER BY id OFFSET %s LIMIT 1", [due])
        row = cursor.fetchone()
        boundary = row[0] if row else None
        cursor.execute(
            "UPDATE debits_instalment SET state = CASE WHEN %s::bigint IS NULL OR id < %s "
            "THEN 'due' ELSE 'paid' END, "
            "amount_paid = CASE WHEN %s::bigint IS NULL OR id < %s THEN 0 ELSE amount_due END, "
            "paid_at = CASE WHEN %s::bigint IS NULL OR id < %s THEN NULL ELSE now() END, "
            "due_date = %s",
            [boundary, boundary, boundary, boundary, boundary, boundary, today],
        )
        cursor.execute("VACUUM ANALYZE")


class StatementCounter:
    """Counts the statements this process runs (an execute wrapper), thread-safe."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)


def worker_statements(folder: Path) -> int:
    return sum(int(f.read_text() or 0) for f in folder.iterdir() if f.is_file())


def measure_run(today: dt.date) -> tuple[int, float, float, int]:
    """(collected, seconds from the call to the last chunk recorded, selection seconds,
    statements this process ran for the run's selection)."""
    from django.db import connection

    from debits.models import DebitRun
    from debits.services import run_debit_job

    counter = StatementCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        run = run_debit_job(on_date=today, kind=DebitRun.Kind.MANUAL)
    selected_after = time.perf_counter() - started
    selection_statements = counter.count
    while True:
        run.refresh_from_db(fields=["state", "chunks_done", "chunks_total", "succeeded_count"])
        if run.state != DebitRun.State.RUNNING:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    return run.succeeded_count, elapsed, selected_after, selection_statements


def naive_loop(sample: int, today: dt.date, latency_ms: int, *, instant: bool = False) -> float:
    """One instalment at a time through the ORM: what the chunked engine replaces."""
    from django.utils import timezone

    from debits.models import DebitAttempt, Instalment, Mandate
    from simulator.gateway import SimulatorGateway

    gateway = InstantGateway() if instant else SimulatorGateway(latency_ms=latency_ms)
    ids = list(
        Instalment.objects.filter(state="due", due_date__lte=today)
        .order_by("id")
        .values_list("id", flat=True)[:sample]
    )
    started = time.perf_counter()
    for pk in ids:
        instalment = Instalment.objects.select_related("loan").get(pk=pk)
        mandate = Mandate.objects.get(loan_id=instalment.loan_id, state="active")
        attempt = DebitAttempt.objects.create(
            instalment=instalment,
            mandate=mandate,
            attempt_number=1,
            idempotency_key=f"naive-{pk}",
            amount=instalment.amount_due,
            presented_credential_version=mandate.synced_credential_version,
            state="submitted",
            submitted_at=timezone.now(),
        )
        result = gateway.collect(
            idempotency_key=attempt.idempotency_key,
            mandate_reference=mandate.reference,
            agreement_token=mandate.gateway_agreement_token,
            amount_minor=int(instalment.amount_due * 100),
        )
        attempt.state = "succeeded" if result.succeeded else "failed"
        attempt.finished_at = timezone.now()
        attempt.save(update_fields=["state", "finished_at"])
        if result.succeeded:
            instalment.state = "paid"
            instalment.amount_paid = instalment.amount_due
            instalment.paid_at = timezone.now()
            instalment.save(update_fields=["state", "amount_paid", "paid_at"])
    return len(ids) / (time.perf_counter() - started)


def explain_hot_queries(today: dt.date, chunk: int, due: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each hot query on this book, in a transaction
    rolled back (the claim and record statements are writes)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from debits.models import DebitRun
    from debits.services import chunks as chunk_service
    from debits.services import recording
    from debits.services.eligibility import INSTALMENT_FIELDS, load_collection_context
    from debits.services.runs import SELECTION_BATCH, _open_instalments
    from simulator import ledger

    def explain(title: str, sql: str, params) -> None:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"--- {title}")
        for line in plan:
            print("    " + line)

    # As at month-end: the whole book due, nothing collected yet.
    reset_book(due, today)
    with transaction.atomic():
        run = DebitRun.objects.create(run_date=today, kind=DebitRun.Kind.MANUAL)
        page = _open_instalments(today, None).order_by("pk").filter(pk__gt=0)
        page = page.values(*INSTALMENT_FIELDS)[:SELECTION_BATCH]
        explain(f"selection page ({SELECTION_BATCH} rows, keyset)", *page.query.sql_with_params())
        ids = list(page.values_list("id", flat=True)[:chunk])
        lock = chunk_service.lock_chunk_query(ids, skip_locked=True)
        explain(f"claim: lock the chunk ({len(ids)} instalments)", *lock.query.sql_with_params())
        rows = chunk_service.lock_chunk_rows(ids, skip_locked=True)
        ctx = load_collection_context(rows, today=today)
        attempts = []
        for row in rows:
            mandate = ctx.mandates[row["loan_id"]]
            attempts.append(
                chunk_service.NewAttempt(
                    instalment_id=row["id"],
                    mandate_id=mandate.pk,
                    attempt_number=1,
                    idempotency_key=chunk_service.idempotency_key_for(row["id"], 1),
                    amount=row["amount_due"] - row["amount_paid"],
                    credential_version=mandate.synced_credential_version,
                    agreement_token=mandate.gateway_agreement_token,
                )
            )
        params = chunk_service.claim_parameters(attempts, run_id=run.pk)
        explain("claim: insert the attempts (in-sync check, ON CONFLICT)",
                chunk_service._CLAIM_SQL, params)  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM debits_debitattempt WHERE idempotency_key = ANY(%s)",
                [params["keys"]],
            )
            attempt_ids = [r[0] for r in cursor.fetchall()]
        n = len(attempt_ids)
        explain(
            "record + mark-paid: settle the attempts, mark their instalments paid",
            recording._SETTLE_SQL,
            {
                "ids": attempt_ids,
                "states": ["succeeded"] * n,
                "codes": [""] * n,
                "raws": [""] * n,
                "messages": [""] * n,
                "retries": [None] * n,
                "references": [f"R{i}" for i in range(n)],
                "now": timezone.now(),
                "today": today,
            },
        )
        refs = [ctx.mandates[row["loan_id"]].reference for row in rows]
        print("--- simulator: batch read (ledger, presentations, agreements, card versions)")
        with connection.execute_wrapper(_explaining):
            ledger.read_presentations(list(zip(params["keys"], refs, strict=True)))
        transaction.set_rollback(True)


def _explaining(execute, sql, params, many, context):
    """Print the plan of the wrapped statement (a read: run it twice, harmless)."""
    if sql.lstrip().upper().startswith("SELECT"):
        cursor = context["cursor"]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        for (line,) in cursor.fetchall():
            print("    " + line)
    return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=200_000)
    parser.add_argument(
        "--latency-instalments",
        type=int,
        default=None,
        help="instalments due in the 20 ms runs (default: all); they take longer",
    )
    parser.add_argument(
        "--collect",
        type=int,
        default=None,
        help="instalments due in each run (default: all seeded; the rest are left paid)",
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("--latencies", default="0,20", help="simulator latencies in ms")
    parser.add_argument(
        "--paths",
        default="batch",
        help="ways of presenting to measure: batch (collect_batch per chunk), per_call",
    )
    parser.add_argument("--gateway-concurrency", type=int, default=16)
    parser.add_argument(
        "--gateway",
        choices=["simulator", "instant"],
        default="simulator",
        help="instant: an in-memory gateway answering at once, to measure the engine alone",
    )
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--no-explain", action="store_true", help="skip the query plans")
    parser.add_argument("--explain-only", action="store_true", help="only the query plans, no runs")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    args = parser.parse_args()
    if args.instalments < 1 or args.naive_sample < 0:
        parser.error("--instalments must be positive and --naive-sample not negative")
    try:
        workers = [int(w) for w in args.workers.split(",")]
        latencies = [int(ms) for ms in args.latencies.split(",")]
    except ValueError:
        parser.error("--workers and --latencies are comma-separated integers")
    paths = args.paths.split(",")
    if not set(paths) <= {"batch", "per_call"}:
        parser.error("--paths is a comma-separated list of batch, per_call")

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "DEBIT_GATEWAY_CONCURRENCY": str(args.gateway_concurrency),
            "LOG_LEVEL": "WARNING",
        }
    )
    from bench_support import prepare_database

    prepare_database(args.database_url, fresh=args.fresh)
    from django.conf import settings
    from django.utils import timezone

    from debits.services.runs import CHUNK_SIZE
    from tests.workers import WorkerProcess, purge_queues

    today = timezone.localdate()
    seed(args.instalments, today)

    results = []
    logs = Path(tempfile.mkdtemp(prefix="debit-bench-"))
    for path in [] if args.explain_only else paths:
        for latency in latencies:
            due = min(args.instalments, args.collect or args.instalments)
            if latency and args.latency_instalments:
                due = min(due, args.latency_instalments)
            for processes in workers:
                reset_book(due, today)
                purge_queues("debits")
                counts = logs / f"statements-{path}-{processes}-{latency}"
                counts.mkdir()
                # INFO: the worker says "ready." at that level.
                env = dict(
                    os.environ,
                    GATEWAY_SIMULATOR_LATENCY_MS=str(latency),
                    LOG_LEVEL="INFO",
                    DEBIT_GATEWAY_BATCH_SIZE=str(
                        settings.DEBIT_GATEWAY_BATCH_SIZE if path == "batch" else 0
                    ),
                    BENCH_STATEMENTS_DIR=str(counts),
                    PYTHONPATH=os.pathsep.join([str(PROJECT_DIR / "bench"), str(PROJECT_DIR)]),
                )
                if args.gateway == "instant":
                    env["PAYMENT_GATEWAY"] = "debit_throughput.InstantGateway"
                try:
                    pool = WorkerProcess(
                        queues="debits",
                        concurrency=processes,
                        env=env,
                        log=logs / f"worker-{path}-{processes}-{latency}.log",
                        prefetch_multiplier=1,
                        stop_timeout=30,
                        app="bench_worker",
                    )
                except RuntimeError as error:
                    raise SystemExit(str(error)) from None
                try:
                    collected, seconds, selection, selection_statements = measure_run(today)
                finally:
                    pool.stop()
                statements = worker_statements(counts) + selection_statements
                per = statements / collected if collected else float("nan")
                rate = collected / seconds
                results.append((path, processes, latency, collected, seconds, rate, per))
                print(
                    f"  {path}, {processes} worker(s), {latency:>2} ms: {collected} collected in "
                    f"{seconds:.1f} s (selection {selection:.1f} s) = {rate:,.0f}/s, "
                    f"{per:.3f} statements per instalment",
                    flush=True,
                )

    naive = {}
    if args.naive_sample and not args.explain_only:
        for latency in latencies:
            reset_book(args.instalments, today)
            sample = args.naive_sample if not latency else max(1, args.naive_sample // 10)
            naive[latency] = (
                sample,
                naive_loop(sample, today, latency, instant=args.gateway == "instant"),
            )

    if not args.no_explain:
        print()
        print(f"Query plans on this book ({args.instalments:,} instalments), rolled back:")
        due = min(args.instalments, args.collect or args.instalments)
        explain_hot_queries(today, CHUNK_SIZE, due)
    reset_book(args.instalments, today)

    print()
    print(f"Debit run throughput, {args.instalments:,} instalments seeded, PostgreSQL + Redis")
    print(
        f"(gateway: {args.gateway}; chunk {CHUNK_SIZE}; batch call per chunk on the batch "
        f"path; calls in flight per worker process on the per-call path: "
        f"{args.gateway_concurrency}; {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end)"
    )
    print()
    print(
        f"{'engine':<44}{'latency':>9}{'collected':>11}{'seconds':>9}{'per second':>12}"
        f"{'SQL/inst.':>11}"
    )
    for path, processes, latency, collected, seconds, rate, per in results:
        plural = "es" if processes > 1 else ""
        label = f"{path.replace('_', '-')}, {processes} worker process{plural}"
        if args.gateway == "instant":
            label += ", instant gateway"
        print(
            f"{label:<44}{latency:>6} ms{collected:>11,}{seconds:>9.1f}{rate:>12,.0f}{per:>11.3f}"
        )
    for latency, (sample, rate) in naive.items():
        label = "naive one-row ORM loop, 1 process"
        print(f"{label:<44}{latency:>6} ms{sample:>11,}{sample / rate:>9.1f}{rate:>12,.0f}")
    for latency, (_, naive_rate) in naive.items():
        best = max((r[5] for r in results if r[2] == latency), default=0)
        print(f"best at {latency} ms: {best / naive_rate:,.1f}x the naive loop")
    print()
    print("Reproduce with:")
    print("  " + shlex.join([".venv/bin/python", "bench/debit_throughput.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()


class InstantGateway:
    """Answers every collect at once from memory: measures the engine without the network."""

    def bind_agreement(self, *, mandate_reference, credential_version, **_):
        from debits.gateways import AgreementBinding

        return AgreementBinding(mandate_reference, f"agr-{mandate_reference}", credential_version)

    def notify_credential_change(self, *, card_reference, credential_version):
        pass

    def collect(self, *, idempotency_key, mandate_reference, agreement_token, amount_minor, **_):
        from debits.gateways import CollectionResult

        return CollectionResult(idempotency_key, "succeeded", f"INSTANT-{idempotency_key}")

    def get_status(self, *, idempotency_key):
        from debits.gateways import CollectionResult

        return CollectionResult(idempotency_key, "", found=False)

    def collect_batch(self, items):
        from debits.gateways import CollectionResult

        return [
            CollectionResult(i.idempotency_key, "succeeded", f"INSTANT-{i.idempotency_key}")
            for i in items
        ]

    def get_status_batch(self, idempotency_keys):
        from debits.gateways import CollectionResult

        return [CollectionResult(key, "", found=False) for key in idempotency_keys]

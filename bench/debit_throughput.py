"""Debit run throughput: instalments collected per second, PostgreSQL + Redis + real workers.

Creates (if missing) and migrates its own database (default bo_h3_bench), seeds
``--instalments`` due instalments with bulk inserts (kept between invocations),
then for each worker count (1 and 2 worker processes: one ``celery worker
-c N``) and each simulator latency (0 and 20 ms) resets the book to due,
starts the workers, calls ``run_debit_job`` and times it from the call (which
includes the selection) until the last chunk is recorded. Beside it, a naive
one-row-at-a-time ORM loop (read instalment, save attempt, collect, save
attempt, save instalment) is timed in this process on a sample of the same book.

    .venv/bin/python bench/debit_throughput.py
    .venv/bin/python bench/debit_throughput.py --instalments 50000 --latency-instalments 20000

Figures on a shared machine are noisy: run it when nothing else is busy.
"""

import argparse
import datetime as dt
import os
import shlex
import sys
import tempfile
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
            "debits_simulatedcollection, debits_simulatedpresentation, debits_latefee"
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


def measure_run(today: dt.date) -> tuple[int, float, float]:
    """(collected, seconds from the call to the last chunk recorded, selection seconds)."""
    from debits.models import DebitRun
    from debits.services import run_debit_job

    started = time.perf_counter()
    run = run_debit_job(on_date=today, kind=DebitRun.Kind.MANUAL)
    selected_after = time.perf_counter() - started
    while True:
        run.refresh_from_db(fields=["state", "chunks_done", "chunks_total", "succeeded_count"])
        if run.state != DebitRun.State.RUNNING:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    return run.succeeded_count, elapsed, selected_after


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
    parser.add_argument("--workers", default="1,2", help="worker process counts to measure")
    parser.add_argument("--latencies", default="0,20", help="simulator latencies in ms")
    parser.add_argument("--gateway-concurrency", type=int, default=16)
    parser.add_argument(
        "--gateway",
        choices=["simulator", "instant"],
        default="simulator",
        help="instant: an in-memory gateway answering at once, to measure the engine alone",
    )
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    args = parser.parse_args()
    if args.instalments < 1 or args.naive_sample < 0:
        parser.error("--instalments must be positive and --naive-sample not negative")
    workers = [int(w) for w in args.workers.split(",")]
    latencies = [int(ms) for ms in args.latencies.split(",")]

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
    from django.utils import timezone

    from tests.workers import WorkerProcess, purge_queues

    today = timezone.localdate()
    seed(args.instalments, today)

    results = []
    logs = Path(tempfile.mkdtemp(prefix="debit-bench-"))
    for latency in latencies:
        due = min(args.instalments, args.collect or args.instalments)
        if latency and args.latency_instalments:
            due = min(due, args.latency_instalments)
        for processes in workers:
            reset_book(due, today)
            purge_queues("debits")
            # INFO: the worker says "ready." at that level.
            env = dict(os.environ, GATEWAY_SIMULATOR_LATENCY_MS=str(latency), LOG_LEVEL="INFO")
            if args.gateway == "instant":
                env["PAYMENT_GATEWAY"] = "debit_throughput.InstantGateway"
                env["PYTHONPATH"] = str(PROJECT_DIR / "bench")
            try:
                pool = WorkerProcess(
                    queues="debits",
                    concurrency=processes,
                    env=env,
                    log=logs / f"worker-{processes}-{latency}.log",
                    prefetch_multiplier=1,
                    stop_timeout=30,
                )
            except RuntimeError as error:
                raise SystemExit(str(error)) from None
            try:
                collected, seconds, selection = measure_run(today)
            finally:
                pool.stop()
            rate = collected / seconds
            results.append((processes, latency, collected, seconds, selection, rate))
            print(
                f"  {processes} worker(s), {latency:>2} ms: {collected} collected in "
                f"{seconds:.1f} s (selection {selection:.1f} s) = {rate:,.0f}/s",
                flush=True,
            )

    naive = {}
    if args.naive_sample:
        for latency in latencies:
            reset_book(args.instalments, today)
            sample = args.naive_sample if not latency else max(1, args.naive_sample // 10)
            naive[latency] = (
                sample,
                naive_loop(sample, today, latency, instant=args.gateway == "instant"),
            )
    reset_book(args.instalments, today)

    print()
    print(f"Debit run throughput, {args.instalments:,} instalments seeded, PostgreSQL + Redis")
    print(
        f"(gateway: {args.gateway}; calls in flight per worker process: {args.gateway_concurrency})"
    )
    print()
    print(f"{'engine':<46}{'latency':>9}{'collected':>11}{'seconds':>9}{'per second':>12}")
    for processes, latency, collected, seconds, _, rate in results:
        label = f"chunked, {processes} worker process{'es' if processes > 1 else ''}"
        if args.gateway == "instant":
            label += ", instant gateway"
        print(f"{label:<46}{latency:>6} ms{collected:>11,}{seconds:>9.1f}{rate:>12,.0f}")
    for latency, (sample, rate) in naive.items():
        label = "naive one-row ORM loop, 1 process"
        print(f"{label:<46}{latency:>6} ms{sample:>11,}{sample / rate:>9.1f}{rate:>12,.0f}")
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

"""Fault-injection run: a debit run while workers die, the broker forgets, the network
fails and customers change passwords; then the system settles by itself and every
invariant is checked from the engine's rows and the simulated network's own books.

Creates (dropping any earlier one) and migrates its own PostgreSQL database
(default bo_faults), seeds ``--instalments`` due instalments (demo.load_book),
starts a redis-server of its own on ``--redis-port`` with no persistence,
``--debit-workers`` Celery workers on the debits queue and ``--resync-workers``
on the resync and default queues, and ONE celery beat whose schedules (the
rows operations edit in the admin) are shortened for the run. It starts the
day's scheduled run and, at moments drawn from ``--seed``:

- SIGKILLs worker processes (a whole worker, or one pool process mid-task),
  preferring a debit worker with a chunk in hand while its gateway calls are
  in flight, and starts them again;
- kills Redis and starts it empty (once within the first seconds);
- has customers change card passwords through ``change_card_password``;

while the simulator answers a share of calls with 5xx and timeouts (before and
after collecting) and takes ``--batch-item-latency-ms`` per instruction of a batch
call, so that the collection goes on while the faults do. Then nothing is called
by hand: beat, the outbox sweeper, the janitor, the run sweeper, reconciliation
and the intraday retry runs settle the book, up to ``--settle-timeout`` seconds.
Prints the table; exits non-zero if an invariant fails or fewer faults than the
minimum were injected.

    .venv/bin/python bench/fault_injection.py                       # 10,000, as CI
    .venv/bin/python bench/fault_injection.py --instalments 100000  # on demand
"""

import argparse
import ast
import json
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.workers import BeatProcess, PrivateRedis, WorkerProcess  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_faults"
CHANNELS = ("mobile_app", "atm", "branch", "core_banking")


def run_settings(args) -> dict[str, str]:
    """Settings for every process of the run: production's rules, shorter clocks.

    Each lease stays longer than what it guards, as in production: a chunk's
    lease and a submitted attempt's staleness are past the task's hard time
    limit, the broker's visibility timeout past the longest re-sync countdown.
    """
    return {
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{args.redis_port}/0",
        "REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/1",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_SIMULATOR_SEED": str(args.seed),
        "GATEWAY_SIMULATOR_LATENCY_MS": str(args.latency_ms),
        "GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS": str(args.batch_item_latency_ms),
        "GATEWAY_SIMULATOR_TIMEOUT_RATE": str(args.timeout_rate),
        "GATEWAY_SIMULATOR_UNAVAILABLE_RATE": str(args.unavailable_rate),
        "GATEWAY_SIMULATOR_INSUFFICIENT_FUNDS_RATE": str(args.insufficient_funds_rate),
        "DEBIT_GATEWAY_CONCURRENCY": str(args.gateway_concurrency),
        "CELERY_TASK_TIME_LIMIT": "20",
        "CELERY_TASK_SOFT_TIME_LIMIT": "18",
        "DEBIT_CHUNK_LEASE_SECONDS": "25",
        "DEBIT_SUBMITTED_STALE_AFTER_SECONDS": "25",
        "DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS": "15",
        "DEBIT_RUN_SELECTION_STALE_SECONDS": "25",
        "DEBIT_OUTAGE_BACKOFF_MINUTES": "0",
        "CELERY_VISIBILITY_TIMEOUT": "60",
        "RESYNC_RETRY_BASE_DELAY_SECONDS": "0.5",
        "RESYNC_RETRY_MAX_DELAY_SECONDS": "8",
        "OUTBOX_REDISPATCH_AFTER_SECONDS": "15",
        "OUTBOX_STUCK_AFTER_SECONDS": "30",
        "RECONCILIATION_STALE_MANDATE_AFTER_SECONDS": "20",
        "NOTIFICATION_BACKEND": "accounts.notifications.FileNotificationBackend",
        "NOTIFICATION_FILE_DIR": str(args.logs / "notifications"),
    }


def beat_every(instalments: int) -> dict[str, int]:
    """Seconds between ticks of each schedule during the run (production: minutes).

    Intraday retry runs select the whole open book, so on a big book they come
    less often, as they would: a run must not start before the last one is done.
    """
    return {
        "Outbox sweeper: re-dispatch unfinished credential changes": 2,
        "Notice sweeper: send customer notices no worker sent": 5,
        "Debit janitor: settle submitted and unknown attempts": 5,
        "Reconciliation: debit runs that stopped": 5,
        "Reconciliation: stale mandates": 10,
        "Reconciliation: stuck outbox events": 10,
        "Reconciliation: attempts without an outcome": 30,
        "Worker heartbeat: default queue": 10,
        "Worker heartbeat: resync queue": 10,
        "Worker heartbeat: debits queue": 10,
        "Intraday debit retry runs": max(15, instalments // 1000),
    }


def shorten_schedules(every: dict[str, int]) -> None:
    """What operations would do in the admin's periodic tasks: same tasks, other intervals.

    Each counts as just run, so its first tick comes one interval after beat starts
    (a retry run at once would select the whole book beside the scheduled run).
    """
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, seconds in every.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        updated = PeriodicTask.objects.filter(name=name).update(
            interval=interval, crontab=None, enabled=True, last_run_at=timezone.now()
        )
        if not updated:
            raise SystemExit(f"no periodic task named {name!r}: the schedules changed")


class Fleet:
    """The run's worker processes: started, killed, started again."""

    def __init__(self, args, env: dict[str, str]):
        self.env, self.logs = dict(env), args.logs
        # Production's layout: a pool per queue (docs/runbook.md), so customer notices
        # on the default queue never hold up re-syncs or a debit run's chunks.
        self.slots = [("debits", f"debits{i}") for i in range(args.debit_workers)]
        self.slots += [("resync", f"resync{i}") for i in range(args.resync_workers)]
        self.slots += [("default", f"default{i}") for i in range(args.default_workers)]
        self.workers: dict[str, WorkerProcess] = {}
        self.generation: dict[str, int] = {}
        for queues, name in self.slots:
            self.start(queues, name)

    def start(self, queues: str, name: str) -> None:
        n = self.generation.get(name, 0) + 1
        self.generation[name] = n
        self.workers[name] = WorkerProcess(
            queues=queues, concurrency=3 if queues == "default" else 1, env=self.env,
            log=self.logs / f"{name}.{n}.log",
            name=f"{name}@%h", wait_ready=False, stop_timeout=10,
        )  # fmt: skip

    def supervise(self) -> int:
        """What systemd's Restart=always does in production: start again any worker
        that exited by itself (kombu can end a worker with an "Unrecoverable error"
        when the broker goes away). Returns how many were restarted."""
        queues_of = {n: q for q, n in self.slots}
        died = [n for n, w in self.workers.items() if w.process.poll() is not None]
        for name in died:
            self.workers[name].stop()
            self.start(queues_of[name], name)
        return len(died)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not all(w.is_ready() for w in self.workers.values()):
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start; see " + str(self.logs))
            time.sleep(0.3)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


def chunk_in_hand(worker: WorkerProcess) -> int | None:
    """The recorded chunk this worker received and has not finished (from its log)."""
    held: dict[str, int | None] = {}
    for line in worker.log_path.read_text(errors="replace").splitlines():
        if "collect_debit_chunk_task[" not in line:
            continue
        try:
            data = json.loads(line).get("data") or {}
        except ValueError:
            continue
        message = json.loads(line).get("message", "")
        if message.endswith(" received"):
            kwargs = ast.literal_eval(data.get("kwargs") or "{}")
            held[data.get("id", "")] = kwargs.get("chunk_id")
        else:
            held.pop(data.get("id", ""), None)
    return next(iter(held.values()), None) if held else None


def calls_in_flight(chunk_id: int | None) -> bool:
    """The chunk's attempts are claimed and not recorded: its gateway calls are under way."""
    from debits.models import DebitAttempt, DebitRunChunk

    ids = DebitRunChunk.objects.filter(pk=chunk_id).values_list("instalment_ids", flat=True).first()
    return (
        bool(ids)
        and DebitAttempt.objects.filter(
            instalment_id__in=ids, state=DebitAttempt.State.SUBMITTED
        ).exists()
    )


def pick_debit_worker(fleet: "Fleet", rng: random.Random, debit_slots: list[str]):
    """A debit worker presenting a chunk right now if one shows up within a few seconds."""
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        presenting = [n for n in debit_slots if calls_in_flight(chunk_in_hand(fleet.workers[n]))]
        if presenting:
            return rng.choice(presenting), True
        time.sleep(0.2)
    return rng.choice(debit_slots), False


def plan_faults(rng: random.Random, args) -> list[tuple[float, str]]:
    """Seeded moments (seconds after the run starts) of every fault."""
    window = args.fault_seconds
    plan = [(rng.uniform(1.0, 3.0), "broker")]
    later = args.broker_restarts - 1
    plan += [(rng.uniform(window * 0.25, window), "broker") for _ in range(later)]
    plan += [(rng.uniform(2.0, window), "kill") for _ in range(args.kills)]
    plan += [(rng.uniform(0.5, window), "password") for _ in range(args.password_changes)]
    return sorted(plan)


def change_password(rng: random.Random, card_ids: list[int], changes: list) -> bool:
    """A customer changes a card's transaction password through the bank's one service."""
    from django.utils import timezone

    from accounts.models import Card
    from accounts.services.card_credentials import CardPasswordError, change_card_password

    card = Card.objects.get(pk=rng.choice(card_ids))
    for _ in range(50):
        password = f"{rng.randrange(10**6):06d}"
        try:
            change = change_card_password(
                card=card, new_password=password, kind="transaction", actor=None,
                channel=rng.choice(CHANNELS),
            )  # fmt: skip
        except CardPasswordError:
            continue  # the policy refused it (a run, a birthday): the customer picks another
        changes.append((card.pk, change.credential_version, timezone.now()))
        return True
    return False


def inject(args, fleet: Fleet, broker: PrivateRedis, card_ids: list[int], tally: dict) -> list:
    """Carry out the planned faults in time order; returns the password changes made."""
    rng = random.Random(args.seed)
    plan = plan_faults(rng, args)
    changes: list = []
    started = time.monotonic()
    for at, kind in plan:
        while time.monotonic() < started + at:
            tally["self exits"] += fleet.supervise()
            time.sleep(min(0.5, max(0.0, started + at - time.monotonic())))
        if kind == "broker":
            broker.kill()
            time.sleep(rng.uniform(0.5, 2.5))
            broker.start()
            tally["broker restarts"] += 1
        elif kind == "password":
            tally["password changes"] += change_password(rng, card_ids, changes)
        else:
            debit_slots = [n for q, n in fleet.slots if q == "debits"]
            in_flight = False
            roll = rng.random()
            if roll < 0.3:
                # Caught presenting: its chunk's claimed attempts are left to the janitor.
                name, in_flight = pick_debit_worker(fleet, rng, debit_slots)
            elif roll < 0.75:
                name = rng.choice(debit_slots)
                in_flight = calls_in_flight(chunk_in_hand(fleet.workers[name]))
            else:
                name = rng.choice([n for q, n in fleet.slots if q != "debits"])
            worker = fleet.workers[name]
            if rng.random() < 0.3 and worker.kill_pool_child():
                tally["pool processes killed"] += 1  # the worker starts another itself
            else:
                worker.stop_timeout = 0
                worker.kill()
                worker.stop()
                fleet.start(dict((n, q) for q, n in fleet.slots)[name], name)
                tally["workers killed"] += 1
            tally["kills"] += 1
            tally["kills with gateway calls in flight"] += bool(in_flight)
    return changes


def settle(args, today, fleet: Fleet, tally) -> tuple[float | None, dict]:
    """Wait, calling nothing, until the system has settled by itself (or the timeout).

    Settled: no run running, no attempt in flight, every outbox event and notice
    done, every live mandate in sync, nothing a retry run would collect now,
    twice in a row a few seconds apart.
    """
    from fault_invariants import settled_state

    started = time.monotonic()
    quiet = 0
    state: dict = {}
    while time.monotonic() - started < args.settle_timeout:
        tally["self exits"] += fleet.supervise()
        state = settled_state(today)
        with (args.logs / "settle.log").open("a") as log:
            log.write(f"{time.monotonic() - started:6.1f} s {state}\n")
        quiet = quiet + 1 if not any(state.values()) else 0
        if quiet >= 2:
            return time.monotonic() - started, state
        time.sleep(3)
    return None, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--debit-workers", type=int, default=3)
    parser.add_argument("--resync-workers", type=int, default=1)
    parser.add_argument("--default-workers", type=int, default=1)
    parser.add_argument("--kills", type=int, default=None, help="default: 20 per 10,000")
    parser.add_argument("--broker-restarts", type=int, default=3)
    parser.add_argument(
        "--password-changes", type=int, default=None, help="default: 150 per 10,000"
    )
    parser.add_argument(
        "--fault-seconds",
        type=float,
        default=None,
        help="how long faults go on (default: about the run's length)",
    )
    parser.add_argument("--latency-ms", type=int, default=30)
    # Without it a chunk's one batch call takes 30 ms and a fast machine collects
    # 10,000 in two seconds, before the first kill: at 8 ms per instruction a chunk
    # of 500 takes 4 s to present, and 20 chunks over 3 debit workers about 30 s, so
    # the collection lasts about as long as the faults on any machine.
    parser.add_argument(
        "--batch-item-latency-ms",
        type=float,
        default=8.0,
        help="added to a batch collect's latency per instruction",
    )
    parser.add_argument("--gateway-concurrency", type=int, default=6)
    parser.add_argument("--timeout-rate", type=float, default=0.03)
    parser.add_argument("--unavailable-rate", type=float, default=0.04)
    parser.add_argument("--insufficient-funds-rate", type=float, default=0.02)
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=None,
        help="default: 300 s per 10,000 instalments, at least 300",
    )
    parser.add_argument("--logs", type=Path, default=None, help="default: a new temp dir")
    args = parser.parse_args()  # fmt: skip
    if (
        args.instalments < 1000
        or min(args.debit_workers, args.resync_workers, args.default_workers) < 1
    ):
        parser.error("at least 1,000 instalments and one worker of each kind")
    scale = args.instalments / 10_000
    if args.kills is None:
        args.kills = max(20, round(20 * scale))
    if args.password_changes is None:
        args.password_changes = round(60 * scale)
    args.settle_timeout = args.settle_timeout or 300 * max(1.0, scale)
    args.fault_seconds = args.fault_seconds or max(40.0, args.instalments / 250)
    args.logs = args.logs or Path(tempfile.mkdtemp(prefix="fault-injection-"))
    (args.logs / "notifications").mkdir(parents=True, exist_ok=True)
    env = run_settings(args)
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from bench_support import prepare_database

    prepare_database(args.database_url, fresh=True)
    sys.exit(0 if run(args, env) else 1)


def run(args, env: dict) -> bool:
    from collections import Counter

    from django.utils import timezone
    from fault_invariants import check

    from accounts.models import Card
    from debits.models import DebitRun
    from debits.services import run_debit_job
    from demo.load_book import seed_due_instalments

    today = timezone.localdate()
    due_ids = seed_due_instalments(count=args.instalments, due_date=today, prefix="F")
    card_ids = list(Card.objects.order_by("pk").values_list("pk", flat=True))
    shorten_schedules(beat_every(args.instalments))
    broker = PrivateRedis(args.redis_port, args.logs / "redis.log")
    broker.start()
    fleet = beat = None
    tally: Counter = Counter()
    try:
        fleet = Fleet(args, env)
        beat = BeatProcess(env=env, log=args.logs / "beat.log", schedule_dir=args.logs)
        fleet.wait_ready()
        started = time.monotonic()
        run_debit_job(on_date=today, kind=DebitRun.Kind.SCHEDULED)
        changes = inject(args, fleet, broker, card_ids, tally)
        faults_over = time.monotonic()
        settled_in, last_state = settle(args, today, fleet, tally)
    finally:
        if beat:
            beat.stop()
        if fleet:
            fleet.stop()
        broker.stop()
    findings = check(due_ids=due_ids, changes=changes)
    return print_table(args, tally, findings, settled_in, last_state, faults_over - started)


def print_table(args, tally, f, settled_in, last_state, fault_seconds) -> bool:
    failures = list(f.problems)
    if settled_in is None:
        failures.insert(0, f"did not settle within {args.settle_timeout:.0f} s: {last_state}")
    if tally["kills"] < args.kills or tally["broker restarts"] < args.broker_restarts:
        failures.insert(0, "fewer faults injected than planned")
    if tally["kills with gateway calls in flight"] == 0:
        failures.insert(0, "no worker was killed with gateway calls in flight")
    for name, value in [
        ("duplicates", f.duplicates), ("lost", f.lost), ("money mismatched", f.money_mismatched),
        ("stale-agreement collects", f.stale_collects), ("changes not synced", f.unsynced_changes),
        ("outbox events open", f.open_outbox), ("notices unsent", f.open_notices),
        ("runs unfinished", f.runs_unfinished), ("chunks unfinished", f.chunks_unfinished),
    ]:  # fmt: skip
        if value:
            failures.append(f"{name}: {value}")
    rows = [
        ("instalments", f"{f.due:,}"),
        ("worker kills (SIGKILL)", f"{tally['kills']} ({tally['workers killed']} whole workers, "
         f"{tally['pool processes killed']} pool processes; "
         f"{tally['kills with gateway calls in flight']} with gateway calls in flight)"),
        ("broker restarts (data lost)", str(tally["broker restarts"])),
        ("workers that died by themselves, restarted", str(tally["self exits"])),
        ("gateway faults injected", f"{sum(f.faults.values()):,} ("
         + ", ".join(f"{k} {v:,}" for k, v in sorted(f.faults.items())) + ")"),
        ("password changes committed", f"{tally['password changes']}"),
        ("collected exactly once", f"{f.collected:,}"),
        ("left for a later retry, with reason", f"{sum(f.left_for_retry.values()):,}"),
        ("duplicates (must be 0)", str(f.duplicates)),
        ("lost (must be 0)", str(f.lost)),
        ("money mismatched (must be 0)", f"{f.money_mismatched} (bank {f.money[0]:,} yuan, "
         f"network {f.money[1]:,} yuan)"),
        ("stale-agreement collects (must be 0)", f"{f.stale_collects} ({f.raced_changes} "
         "collects raced a change being committed)"),
        ("changes not synced / outbox open (must be 0)", f"{f.unsynced_changes} / "
         f"{f.open_outbox + f.open_notices}"),
        ("faults went on for", f"{fault_seconds:.0f} s"),
        ("time to settle", f"{settled_in:.0f} s" if settled_in is not None else "did not settle"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print()
    print(
        f"Fault-injection run, seed {args.seed}: PostgreSQL, private Redis :{args.redis_port}, "
        f"{args.debit_workers} debit, {args.resync_workers} re-sync and {args.default_workers} "
        "default-queue workers, one beat"
    )
    print()
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")
    if f.left_for_retry:
        print()
        print("Left open, by recorded reason:")
        for reason, n in f.left_for_retry.most_common():
            print(f"  {n:>6,}  {reason}")
    print()
    print("Reproduce with:")
    print("  " + shlex.join([".venv/bin/python", "bench/fault_injection.py", *sys.argv[1:]]))
    print(f"Logs: {args.logs}")
    if failures:
        print()
        print("FAILED:")
        for line in failures:
            print(f"  - {line}")
        return False
    print("\nEvery invariant holds.")
    return True


if __name__ == "__main__":
    main()

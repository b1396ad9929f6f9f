"""Staff pages on a big book: p50/p95 and query counts of the customer search (each
kind), the customer 360° page, a debit run's page, the complaint queue, the
operations dashboard and the landing page, one request at a time or
``--concurrency`` at once.

Creates (if missing) and migrates its own PostgreSQL database (default
bo_workspace360_bench) and seeds it with set-based SQL (INSERT ... SELECT
generate_series, kept between invocations): ``--customers`` customers, one card
each and a second card for every tenth, a loan and an active mandate per card (one
card in fifty has a newer credential version: its mandate is out of sync), three
instalments per loan (paid with its succeeded attempt, due, scheduled), a failed
attempt on the due instalment of one loan in twenty (all in one debit run), and a
few hundred open complaints; the rows mirror what ``demo.load_book`` writes. A
handful of customers written through the ORM carry real keyed fingerprints, so
the full card number and national id searches have something to find.

Requests go through Django's test client, signed in as a supervisor (the role
that sees every one of these pages), in this process: with ``--concurrency N``,
N threads each with its own client and database connection. Each sample picks
another customer (another name, phone, last four), so no answer is a cache hit.

    .venv/bin/python bench/staff_pages.py
    .venv/bin/python bench/staff_pages.py --customers 100000 --requests 100 --concurrency 4

Figures on a shared machine are noisy: run it when nothing else is busy.
"""

# The seeding SQL is built from constants and integers, never from input text.
# ruff: noqa: S608

import argparse
import datetime as dt
import os
import random
import shlex
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_workspace360_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/5"

# Common surnames and given-name characters: the names a search meets in a real book.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉建国文斌宇浩凯健俊帆"
    "帅旭宁琳欣颖晨阳佳鑫"
)
PROBE_CARD_NUMBER = "6222021234563231"
PROBE_NATIONAL_ID = "11010519900115999X"
PROBE_CARDS = 5


def _sql_array(chars: str) -> str:
    return "ARRAY[" + ",".join(f"'{c}'" for c in chars) + "]"


def seed(customers: int, *, seeder: str) -> None:
    """The book of ``customers`` customers (see the module's docstring), if not there yet."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Customer
    from debits.amortisation import add_months, equal_instalment_schedule

    have = Customer.objects.count()
    if have >= customers:
        return
    if have:
        raise SystemExit(f"the database holds {have:,} customers, not {customers:,}: use --fresh")
    if seeder == "book":
        _seed_load_book(customers)
        _seed_probes_and_complaints()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        return
    today = timezone.localdate()
    row = equal_instalment_schedule(
        principal=Decimal("120000.00"),
        annual_rate=Decimal("0.048000"),
        term_months=12,
        start_date=add_months(today, -2),
    )[0]
    n = customers
    extra = n // 10
    steps = [
        (
            "customers",
            "INSERT INTO accounts_customer (id, full_name, national_id_masked, "
            "national_id_fingerprint, phone, email, status, created_at, language) "
            f"SELECT g, s[1 + (g * 7) % {len(SURNAMES)}] || c[1 + (g * 13) % {len(GIVEN)}] "
            f"|| c[1 + (g * 31) % {len(GIVEN)}], "
            "'110105********' || lpad((g % 10000)::text, 4, '0'), 'bench-nid-' || g, "
            "'13' || lpad(((g::bigint * 7919) % 1000000000)::text, 9, '0'), '', 'active', "
            "now() - (g % 1000) * interval '1 day', 'zh-hans' "
            f"FROM generate_series(1, {n}) g, "
            f"(SELECT {_sql_array(SURNAMES)} AS s, {_sql_array(GIVEN)} AS c) names",
        ),
        (
            "cards",
            "INSERT INTO accounts_card (id, customer_id, product_name, last_four, "
            "number_fingerprint, status, credit_limit, available_limit, credential_version, "
            "credential_changed_at, created_at, credential_changes_flag_reason) "
            "SELECT id, cid, 'Car-loan card', lpad(((id * 37) % 10000)::text, 4, '0'), "
            "'bench-card-' || id, 'active', 200000, 50000, "
            "CASE WHEN id % 50 = 0 THEN 2 ELSE 1 END, "
            "CASE WHEN id % 50 = 0 THEN now() - interval '2 hours' END, now(), '' "
            f"FROM (SELECT g AS id, g AS cid FROM generate_series(1, {n}) g UNION ALL "
            f"SELECT {n} + k, k * 10 FROM generate_series(1, {extra}) k) cards",
        ),
        (
            "loans",
            "INSERT INTO debits_loan (id, card_id, reference, vehicle, principal, annual_rate, "
            "term_months, start_date, status, created_at) "
            "SELECT id, id, 'LB' || lpad(id::text, 12, '0'), '', 120000, 0.048, 12, "
            f"'{add_months(today, -2)}', 'active', now() FROM accounts_card",
        ),
        (
            "mandates",
            "INSERT INTO debits_mandate (id, card_id, loan_id, reference, payee, purpose, "
            "settlement_account_masked, settlement_account_fingerprint, cycle, valid_from, "
            "valid_until, per_debit_cap, state, gateway_agreement_token, "
            "synced_credential_version, synced_at, sync_failure_reason, state_reason, created_at) "
            "SELECT id, id, id, 'MB' || lpad(id::text, 12, '0'), %s, "
            "'Car loan ' || reference || ' repayment', '6217 **** **** 0042', "
            f"'bench-acct-' || id, 'monthly', '{today - dt.timedelta(days=365)}', "
            f"'{today + dt.timedelta(days=5 * 365)}', 50000, 'active', "
            "'agr-MB' || id || '-v1', 1, now() - interval '30 days', '', '', now() "
            "FROM debits_loan",
            [settings.DEBIT_PAYEE_NAME],
        ),
        (
            "instalments",
            "INSERT INTO debits_instalment (id, loan_id, sequence, due_date, principal_part, "
            "interest_part, amount_due, amount_paid, state, paid_at) "
            "SELECT (l.id - 1) * 3 + q, l.id, q, "
            f"'{today}'::date + (q - 2) * 30, {row.principal_part}, {row.interest_part}, "
            f"{row.amount_due}, CASE WHEN q = 1 THEN {row.amount_due} ELSE 0 END, "
            "(ARRAY['paid', 'due', 'scheduled'])[q], "
            "CASE WHEN q = 1 THEN now() - interval '30 days' END "
            "FROM debits_loan l, generate_series(1, 3) q",
        ),
        (
            "debit run",
            "INSERT INTO debits_debitrun (id, run_date, kind, state, dry_run, started_at, "
            "finished_at, selected_count, skipped_count, chunks_total, chunks_done, "
            "succeeded_count, failed_count, unknown_count, selection_finished_at, "
            "selection_cursor) "
            f"VALUES (1, '{today}', 'scheduled', 'completed', false, now(), now(), "
            f"{(n + extra) // 20}, 0, 1, 1, 0, {(n + extra) // 20}, 0, now(), 0)",
        ),
        (
            "debit attempts",
            "INSERT INTO debits_debitattempt (instalment_id, mandate_id, run_id, "
            "attempt_number, idempotency_key, amount, presented_credential_version, state, "
            "failure_code, raw_failure_code, failure_message, gateway_reference, created_at, "
            "finished_at) "
            "SELECT i.id, i.loan_id, CASE WHEN i.sequence = 2 THEN 1 END, 1, "
            "'inst-' || i.id || '-1', i.amount_due, 1, "
            "CASE WHEN i.sequence = 1 THEN 'succeeded' ELSE 'failed' END, "
            "CASE WHEN i.sequence = 1 THEN '' ELSE 'insufficient_funds' END, '', '', '', "
            "now() - (3 - i.sequence) * interval '15 days', now() "
            "FROM debits_instalment i "
            "WHERE i.sequence = 1 OR (i.sequence = 2 AND i.loan_id % 20 = 0)",
        ),
    ]
    print(f"seeding {n:,} customers with set-based SQL ...", flush=True)
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql, *params in steps:
            started = time.perf_counter()
            cursor.execute(sql, params[0] if params else None)
            print(f"  {name}: {cursor.rowcount:,} rows, {time.perf_counter() - started:.1f} s")
        for table in (
            "accounts_customer",
            "accounts_card",
            "debits_loan",
            "debits_mandate",
            "debits_instalment",
            "debits_debitrun",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    _seed_probes_and_complaints()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _seed_load_book(customers: int) -> None:
    """``demo.load_book.seed_book``'s book (full schedules), then a failed attempt on the
    instalment due today of one customer in twenty, all in one debit run."""
    from django.db import connection
    from django.utils import timezone
    from tqdm import tqdm

    from demo.load_book import seed_book

    today = timezone.localdate()
    with tqdm(total=customers, unit="customer", desc="seed_book", file=sys.stderr) as bar:
        seed_book(
            customers,
            due=customers // 20,
            on_date=today,
            workers=2,
            build_indexes_after=True,
            progress=bar.update,
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO debits_debitrun (run_date, kind, state, dry_run, started_at, "
            "finished_at, selected_count, skipped_count, chunks_total, chunks_done, "
            "succeeded_count, failed_count, unknown_count, selection_finished_at, "
            "selection_cursor) "
            "VALUES (%s, 'scheduled', 'completed', false, now(), now(), 0, 0, 1, 1, 0, 0, 0, "
            "now(), 0) "
            "RETURNING id",
            [today],
        )
        run_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO debits_debitattempt (instalment_id, mandate_id, run_id, "
            "attempt_number, idempotency_key, amount, presented_credential_version, state, "
            "failure_code, raw_failure_code, failure_message, gateway_reference, created_at, "
            "finished_at) "
            "SELECT i.id, m.id, %s, 1, 'inst-' || i.id || '-1', i.amount_due, "
            "m.synced_credential_version, 'failed', 'insufficient_funds', '', '', '', now(), "
            "now() FROM debits_instalment i JOIN debits_mandate m ON m.loan_id = i.loan_id "
            "WHERE i.due_date = %s AND i.state IN ('due', 'scheduled')",
            [run_id, today],
        )
        print(f"  failed attempts on today's instalments: {cursor.rowcount:,}")
        cursor.execute(
            "UPDATE debits_debitrun SET selected_count = %s, failed_count = %s WHERE id = %s",
            [cursor.rowcount, cursor.rowcount, run_id],
        )


def _seed_probes_and_complaints() -> None:
    """Customers with real fingerprints (one with five cards) and open complaints."""
    from django.db.models import Max, Min
    from django.utils import timezone

    from accounts.models import Card, Customer, StaffUser
    from accounts.pii import (
        card_number_fingerprint,
        mask_national_id,
        national_id_fingerprint,
    )
    from backoffice.complaints import deadlines
    from backoffice.complaints.models import Complaint
    from debits.models import Loan, Mandate

    probe = Customer.objects.create(
        full_name="孙娟",
        national_id_masked=mask_national_id(PROBE_NATIONAL_ID),
        national_id_fingerprint=national_id_fingerprint(PROBE_NATIONAL_ID),
        phone="13912345678",
    )
    for k in range(PROBE_CARDS):
        number = PROBE_CARD_NUMBER if k == 0 else f"62220212345{k:05d}"
        card = probe.cards.create(
            last_four=number[-4:],
            number_fingerprint=card_number_fingerprint(number),
            credit_limit=200000,
            available_limit=50000,
        )
        loan = Loan.objects.create(
            card=card,
            reference=f"LP{k:010d}",
            principal=120000,
            annual_rate="0.048",
            term_months=12,
            start_date=timezone.localdate(),
        )
        Mandate.objects.create(
            card=card,
            loan=loan,
            reference=f"MP{k:010d}",
            payee="bench",
            purpose=f"Car loan {loan.reference} repayment",
            settlement_account_masked="6217 **** **** 0042",
            settlement_account_fingerprint=f"probe-{k}",
            valid_from=timezone.localdate(),
            valid_until=timezone.localdate() + dt.timedelta(days=365),
            per_debit_cap=50000,
            state=Mandate.State.ACTIVE,
            synced_credential_version=1,
        )
    officer, _ = StaffUser.objects.get_or_create(username="bench-officer")
    now = timezone.now()
    received_on = deadlines.received_on(now)
    first, last = Customer.objects.aggregate(first=Min("pk"), last=Max("pk")).values()
    step = max(1, (last - first) // 500)
    cards = Card.objects.filter(customer_id__in=range(first, last, step)).values_list(
        "customer_id", "pk"
    )
    Complaint.objects.bulk_create(
        Complaint(
            customer_id=customer_id,
            card_id=card_id,
            category=Complaint.Category.DEBIT_FAILED_AFTER_PASSWORD_CHANGE,
            channel=Complaint.Channel.PHONE,
            description="自动还款失败",
            logged_by=officer,
            received_at=now,
            received_on=received_on,
            due_on=deadlines.due_on(received_on),
        )
        for customer_id, card_id in cards
    )


def _staff_client():
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.models import StaffUser
    from tests.conftest import sign_in_verified

    user, _ = StaffUser.objects.get_or_create(
        username="bench-supervisor", defaults={"is_staff": True, "language": "zh-hans"}
    )
    user.groups.add(Group.objects.get(name="supervisor"))
    return sign_in_verified(Client(), user)


def _full_identifiers(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Card numbers and national ids to search by: the load book's own (its rows carry
    their real fingerprints), else the probe customer's."""
    from accounts.models import Card, Customer
    from accounts.pii import card_number_fingerprint
    from demo.book_rows import card_number, national_id_and_birth_date

    if Card.objects.filter(number_fingerprint=card_number_fingerprint(card_number(0))).exists():
        book = Customer.objects.count() - 1  # less the probe
        picks = [rng.randrange(book) for _ in range(count)]
        return (
            [card_number(i) for i in picks],
            [national_id_and_birth_date(i)[0] for i in picks],
        )
    return [PROBE_CARD_NUMBER] * count, [PROBE_NATIONAL_ID] * count


def _samples(count: int, rng: random.Random) -> dict:
    """What each search and page request is made with, ``count`` of each."""
    from django.db.models import Max, Min

    from accounts.models import Customer
    from accounts.pii import national_id_fingerprint
    from debits.models import DebitRun

    first, last = Customer.objects.aggregate(first=Min("pk"), last=Max("pk")).values()
    ids = [rng.randint(first, last) for _ in range(count)]
    card_numbers, national_ids = _full_identifiers(count, rng)
    people = list(Customer.objects.filter(pk__in=ids).values_list("pk", "full_name", "phone"))
    rng.shuffle(people)
    probe = Customer.objects.get(national_id_fingerprint=national_id_fingerprint(PROBE_NATIONAL_ID))
    run = DebitRun.objects.order_by("pk").first()
    return {
        "search: name": [("get", "/customers/", {"q": name}) for _pk, name, _ in people],
        "search: surname": [
            ("get", "/customers/", {"q": rng.choice(SURNAMES)}) for _ in range(count)
        ],
        "search: name + phone last four": [
            ("get", "/customers/", {"q": f"{name} {phone[-4:]}"}) for _pk, name, phone in people
        ],
        "search: full phone (post, redirect, get)": [
            ("post", "/customers/", {"q": phone}) for _pk, _name, phone in people
        ],
        "search: card last four": [
            ("get", "/customers/", {"q": f"{rng.randrange(10000):04d}"}) for _ in range(count)
        ],
        "search: full card number (post, redirect, get)": [
            ("post", "/customers/", {"q": number}) for number in card_numbers
        ],
        "search: national id (post, redirect, get)": [
            ("post", "/customers/", {"q": number}) for number in national_ids
        ],
        "customer 360 (1 or 2 cards)": [("get", f"/customers/{pk}/", {}) for pk, _n, _p in people],
        f"customer 360 ({PROBE_CARDS} cards)": [("get", f"/customers/{probe.pk}/", {})] * count,
        # The page fetches its timeline apart once it has loaded.
        "customer 360 timeline (1 or 2 cards)": [
            ("get", f"/customers/{pk}/", {"fragment": "timeline"}) for pk, _n, _p in people
        ],
        f"customer 360 timeline ({PROBE_CARDS} cards)": [
            ("get", f"/customers/{probe.pk}/", {"fragment": "timeline"})
        ]
        * count,
        "debit run page": [("get", f"/debits/runs/{run.pk}/", {})] * count,
        "complaint queue": [("get", "/complaints/", {})] * count,
        "operations dashboard": [("get", "/operations/", {})] * count,
        "landing page (every role's first page)": [("get", "/", {})] * count,
    }


_local = threading.local()


def _request(request) -> tuple[float, int, float, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = _staff_client()
    method, url, data = request
    # The log keeps the last 9,000 queries only: start each request's capture afresh.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        started, cpu_started = time.perf_counter(), time.thread_time()
        if method == "post":
            response = client.post(url, data, follow=True)
        else:
            response = client.get(url, data)
        seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    if response.status_code != 200:
        raise SystemExit(f"{method.upper()} {url} {data} answered {response.status_code}")
    database = sum(float(q["time"]) for q in queries.captured_queries)
    return seconds, len(queries), database, cpu


def _close_connection() -> None:
    from django.db import connection

    connection.close()


def measure(requests: list, concurrency: int) -> tuple[list[float], int, list[float], list]:
    """(seconds of each request, queries of one, seconds in the database of each, CPU
    seconds this process spent on each), ``concurrency`` requests at a time."""
    if concurrency == 1:
        results = [_request(r) for r in requests]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(_request, requests))
            list(pool.map(lambda _i: _close_connection(), range(concurrency)))
    return [r[0] for r in results], results[-1][1], [r[2] for r in results], [r[3] for r in results]


def explain_searches(requests: list) -> tuple[list[float], set[str]]:
    """PostgreSQL's own execution time (ms) of each search's first page, and the scans
    its plans use: what the indexes make of a million customers, apart from Django."""
    import json

    from django.db import connection

    from accounts.pii import fingerprint_search_term
    from accounts.selectors import search_customers

    executed, scans = [], set()
    for _method, _url, data in requests:
        sql, params = search_customers(fingerprint_search_term(data["q"]))[
            :26
        ].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        executed.append(plan[0]["Execution Time"])
        text = json.dumps(plan)
        for node in ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            if f'"Node Type": "{node}"' in text:
                scans.add(node)
    return executed, scans


def _take_snapshot() -> float:
    """Seconds the hourly snapshot takes on this book: the whole-book counts the landing
    page shows and the days of collections the dashboard charts."""
    from debits.services.operations import take_operations_snapshot

    started = time.perf_counter()
    take_operations_snapshot()
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page or search")
    parser.add_argument("--concurrency", type=int, default=1, help="requests at once")
    parser.add_argument("--seed", type=int, default=12, help="random seed of the samples")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    parser.add_argument(
        "--seeder",
        choices=["book", "sql"],
        default="book",
        help="book: demo.load_book.seed_book (full schedules, COPY); "
        "sql: a lighter book of three instalments a loan, by INSERT ... SELECT",
    )
    args = parser.parse_args()
    if args.customers < 1000 or args.requests < 1 or args.concurrency < 1:
        parser.error("--customers must be 1000 or more, --requests and --concurrency positive")

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "LOG_LEVEL": "WARNING",
            # Connections kept between requests, as the web processes keep them.
            "CONN_MAX_AGE": "60",
        }
    )
    from bench_support import prepare_database

    prepare_database(args.database_url, fresh=args.fresh)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    seed(args.customers, seeder=args.seeder)
    from accounts.models import Customer

    customers = Customer.objects.count()
    snapshot_seconds = _take_snapshot()
    measurements = _samples(args.requests, random.Random(args.seed))
    _request(next(iter(measurements.values()))[0])  # warm the templates and the session
    print()
    print(
        f"Staff pages on a book of {customers:,} customers (PostgreSQL, Django test client "
        f"in-process, {args.concurrency} request(s) at once, {args.requests} per row)"
    )
    print(
        f"  The hourly snapshot the landing page and the dashboard read (beat takes it): "
        f"{snapshot_seconds:.1f} s on this book"
    )
    print(
        f"  {'page':<48} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'queries':>7} "
        f"{'db p50':>7} {'db p95':>7} {'cpu p50':>7}"
    )
    for name, requests in measurements.items():
        seconds, queries, database, cpu = measure(requests, args.concurrency)
        print(
            f"  {name:<48} {statistics.median(seconds) * 1000:7.1f} "
            f"{percentile(seconds, 95) * 1000:7.1f} {max(seconds) * 1000:7.1f} {queries:7d} "
            f"{statistics.median(database) * 1000:7.1f} {percentile(database, 95) * 1000:7.1f} "
            f"{statistics.median(cpu) * 1000:7.1f}",
            flush=True,
        )
    print(
        "  (ms of the whole request in Django; db: of that, the time its queries took;\n"
        "   cpu: the CPU time this process spent on it, what it costs without waiting for a core)"
    )
    print()
    print("  The customer query of each search, as PostgreSQL executes it (EXPLAIN ANALYZE):")
    print(f"  {'search':<48} {'p50 ms':>7} {'p95 ms':>7}  plan")
    for name, requests in measurements.items():
        if name.startswith("search: "):
            executed, plans = explain_searches(requests)
            print(
                f"  {name:<48} {statistics.median(executed):7.2f} "
                f"{percentile(executed, 95):7.2f}  {', '.join(sorted(plans))}"
            )
    print()
    print("Reproduce with:")
    print("  " + shlex.join([".venv/bin/python", "bench/staff_pages.py", *sys.argv[1:]]))
    print("(a shared, noisy machine gives noisy figures: run it when nothing else is busy)")


if __name__ == "__main__":
    main()

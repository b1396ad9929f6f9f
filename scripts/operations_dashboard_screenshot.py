"""The README's screenshot of the operations dashboard, taken in a real Chromium.

Creates (fresh) its own PostgreSQL database, seeds the demo book plus 30 days of
made-up operations history (debit attempts by day and failure code, re-syncs
with their lag, hourly snapshots, open alerts, a run in progress), serves the
back office with ``runserver`` on a free port, signs an operator in and saves
a full-page screenshot with Playwright (Debian's Chromium).

    .venv/bin/python scripts/operations_dashboard_screenshot.py
    .venv/bin/python scripts/operations_dashboard_screenshot.py --out /tmp/ops.png
"""

import argparse
import datetime as dt
import os
import random
import socket
import subprocess  # nosec B404 # starts our own runserver
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bo_operations_screenshot"


def made_up_history(rng: random.Random) -> None:
    from django.utils import timezone

    from accounts.models import PasswordChange
    from debits.models import (
        Alert,
        DebitAttempt,
        DebitRun,
        Instalment,
        Mandate,
        MandateSync,
        OperationsSnapshot,
    )
    from debits.services import raise_alert
    from demo.load_book import seed_due_instalments

    now = timezone.now()
    days = 30
    per_day = 300
    ids = seed_due_instalments(count=days * per_day, due_date=timezone.localdate(), prefix="H")
    instalments = Instalment.objects.in_bulk(ids)
    mandates = dict(Mandate.objects.filter(loan__instalments__in=ids).values_list("loan_id", "id"))
    run = DebitRun.objects.create(
        run_date=timezone.localdate(), state=DebitRun.State.RUNNING, chunks_total=20,
        chunks_done=13, selected_count=10_000, succeeded_count=6_210, failed_count=220,
    )  # fmt: skip
    codes = ["insufficient_funds"] * 8 + ["limit_exceeded", "account_closed"]
    attempts = []
    for index, pk in enumerate(ids):
        day = index // per_day
        instalment = instalments[pk]
        # An outage 9 days ago: a day of stale agreements and gateway errors.
        outage = day == 9
        failed = rng.random() < (0.35 if outage else 0.06)
        code = (
            rng.choice(["agreement_stale", "gateway_unavailable"]) if outage else rng.choice(codes)
        )
        attempts.append(
            DebitAttempt(
                instalment=instalment, mandate_id=mandates[instalment.loan_id], run=run,
                attempt_number=1, idempotency_key=f"inst-{pk}-1", amount=instalment.amount_due,
                presented_credential_version=1, state="failed" if failed else "succeeded",
                failure_code=code if failed else "",
                created_at=now - dt.timedelta(days=day, minutes=rng.randint(0, 600)),
            )
        )  # fmt: skip
    DebitAttempt.objects.bulk_create(attempts, batch_size=2000)

    some = list(Mandate.objects.order_by("pk").values_list("pk", "card_id")[:2000])
    changes, syncs = [], []
    for hour in range(days * 24):
        for _ in range(rng.randint(1, 4)):
            mandate_id, card_id = rng.choice(some)
            version = 1000 + len(changes)
            at = now - dt.timedelta(hours=hour, minutes=rng.randint(0, 59))
            lag = rng.lognormvariate(-2.0, 0.6) + (30 if hour // 24 == 9 else 0)
            changes.append(PasswordChange(card_id=card_id, kind="transaction",
                                          channel="mobile_app", credential_version=version,
                                          changed_at=at))  # fmt: skip
            syncs.append(MandateSync(mandate_id=mandate_id, target_credential_version=version,
                                     trigger="credential_change", outcome="succeeded",
                                     requested_at=at, finished_at=at + dt.timedelta(seconds=lag),
                                     latency_ms=int(lag * 1000)))  # fmt: skip
    PasswordChange.objects.bulk_create(changes, batch_size=2000)
    MandateSync.objects.bulk_create(syncs, batch_size=2000)

    hour0 = now.replace(minute=0, second=0, microsecond=0)
    OperationsSnapshot.objects.bulk_create(
        OperationsSnapshot(
            hour=hour0 - dt.timedelta(hours=h),
            out_of_sync_mandates=(rng.randint(40, 160) if h // 24 == 9 else rng.randint(0, 3)),
            outbox_backlog=rng.randint(0, 2),
        )
        for h in range(days * 24)
    )
    for severity, kind, key, message in [
        ("critical", Alert.Kind.MANDATE_DRIFT, "mandate_drift:book",
         "3 active mandate(s) still bound to an old credential an hour after the change."),
        ("warning", Alert.Kind.FAILURE_RATE, "failure_rate:code:limit_exceeded",
         "limit_exceeded: 41 of 1,180 debits today (3.5%) against 0.61% over the last 14 days."),
        ("warning", Alert.Kind.REPEATED_PASSWORD_CHANGES, "repeated_password_changes:card:7",
         "4 credential changes on Card •••• 0007 within 24 h: possible fraud."),
        ("info", Alert.Kind.UNKNOWN_ATTEMPTS, "unknown_attempts:book",
         "2 debit attempt(s) still without an outcome after 60 minutes."),
    ]:  # fmt: skip
        raise_alert(kind=kind, dedup_key=key, severity=severity, message=message)


def operator_session() -> str:
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.models import StaffUser
    from tests.conftest import sign_in_verified

    user, _ = StaffUser.objects.get_or_create(
        username="li.na", defaults={"first_name": "Li", "last_name": "Na", "is_staff": True}
    )
    user.groups.add(Group.objects.get(name="operations"))
    client = sign_in_verified(Client(), user)
    return client.cookies["sessionid"].value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument(
        "--out", default=str(PROJECT_DIR / "docs/screenshots/operations-dashboard.png")
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "backoffice.settings", "DATABASE_URL": args.database_url,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend", "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from bench_support import prepare_database

    prepare_database(args.database_url, fresh=True)
    from django.core.management import call_command

    call_command("seed_demo", customers=300, verbosity=0)
    made_up_history(random.Random(20261201))  # nosec B311 # made-up figures, not secrets
    session = operator_session()

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 # nosec B603 # our own manage.py
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=PROJECT_DIR, env=os.environ.copy(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies(
                [{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{port}"}]
            )
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/operations/", wait_until="networkidle")
            if "Operations" not in page.title():
                raise SystemExit(f"not the dashboard: {page.title()}")
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()

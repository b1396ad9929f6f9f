"""The walk a bank's staff take through the back office, in a real browser, in each language.

Debian's Chromium through Playwright against pytest-django's live server, on
the demo book and its stories: an agent signs in with the second factor,
finds the customer whose re-sync failed, starts a password reset; the
customer sets the password on the reset page; the mandate comes back in sync
(re-synced by a real Celery worker on PostgreSQL and Redis when those are
configured, in-process otherwise); the agent logs the complaint and sees the
diagnosis; an officer asks for a compensation above the approval threshold and
a supervisor, a second person, approves it and checks the operations
dashboard. axe-core checks every page (no serious or critical violation), Tab
reaches the search box and a primary button, and every step is saved under
var/screenshots/; with UPDATE_SCREENSHOTS=1 the README's two are replaced:

    UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser
"""

import re
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts import notifications
from tests.browser.staff_browser import (
    PageChecks,
    launched_chromium,
    require_axe,
    screenshot,
    sign_in,
    tab_until,
)
from tests.conftest import redis_is_reachable, wait_until
from tests.debit_helpers import eager_celery
from tests.factories import STAFF_PASSWORD, StaffUserFactory
from tests.workers import WorkerProcess, purge_broker, redis_broker_url, worker_environment

# A walk takes under a minute on a quiet machine; a shared, loaded one needs more room.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
]

__all__ = ["eager_celery"]

NEW_CARD_PASSWORD = "946381"
LINK = re.compile(r"https?://\S+/reset/[A-Za-z0-9_\-]+/")
BROWSER_LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """Earlier transactional tests flush every table, the role groups (written by a data
    migration) included: put them back for the staff signing in."""
    from accounts.roles import sync_role_groups

    sync_role_groups()


@pytest.fixture(scope="module")
def worker_for_the_module(django_db_setup, django_db_blocker, tmp_path_factory):
    """One real worker on the resync queue for both walks, where PostgreSQL and Redis are
    there: starting one takes longer than a walk's re-sync."""
    url = redis_broker_url()
    if connection.vendor != "postgresql" or not url or not redis_is_reachable(url):
        yield None
        return
    with django_db_blocker.unblock():
        purge_broker()
        worker = WorkerProcess(
            queues="default,resync",
            concurrency=1,
            env=worker_environment(),
            log=tmp_path_factory.mktemp("worker") / "worker.log",
            # Its tasks are idempotent and the broker is purged after: no need to wait long.
            stop_timeout=5,
        )
        try:
            yield worker
        finally:
            worker.stop()
            purge_broker()
            _wait_for_worker_sessions_to_end()


def _wait_for_worker_sessions_to_end(timeout: float = 10) -> None:
    """A stopped worker's database sessions end a moment after it: the test database
    can be dropped only once they have."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.2)


@pytest.fixture
def resync_worker(request, worker_for_the_module):
    """The real worker re-syncs where there is one; else tasks run in the process that
    sends them (the live server's thread)."""
    if worker_for_the_module is not None:
        return "worker"
    request.getfixturevalue("eager_celery")
    return "eager"


@pytest.fixture
def sent_messages(settings, live_server):
    # The live server runs in this process: the reset link is read from the outbox,
    # and it points at the server the customer's browser can reach.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"
    notifications.outbox.clear()
    yield notifications.outbox
    notifications.outbox.clear()


@pytest.fixture
def story(db):
    from demo.book import seed_demo_book
    from demo.stories import seed_demo_stories

    seed_demo_book(customers=30, seed=7, password_pool=["135790"])
    return seed_demo_stories()


def staff(role: str, username: str, language: str):
    from accounts.models import AuthenticatorDevice

    user = StaffUserFactory(username=username, role=role, language=language)
    device = AuthenticatorDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user, device


def signed_in(browser, live_server, checks, language, user, device):
    context = browser.new_context(
        locale=BROWSER_LOCALES[language],
        viewport={"width": 1280, "height": 900},
        # axe-core goes in as an inline script, which the pages' CSP rightly refuses.
        bypass_csp=True,
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    checks.check(page, f"sign-in ({user.username})")
    sign_in(page, live_server.url, user, STAFF_PASSWORD, device)
    checks.check(page, f"dashboard ({user.username})")
    return page


def search_customer(page, live_server, checks, customer) -> None:
    """The header's search box where there is one, else the customer search page."""
    term = customer.full_name
    header_box = page.locator("#global-search")
    if header_box.count():
        page.goto(f"{live_server.url}/")
        tab_until(page, "#global-search")
        page.keyboard.type(term)
        with page.expect_navigation():
            page.keyboard.press("Enter")
    else:
        page.goto(live_server.url + reverse("customers:customer_search"))
        tab_until(page, "#customer-search")
        page.keyboard.type(term)
        tab_until(page, "form[role=search] button[type=submit]", presses=3)
        with page.expect_navigation():
            page.keyboard.press("Enter")
    checks.check(page, "search results")
    with page.expect_navigation():
        page.click(f"a[href='{reverse('customers:customer_detail', args=[customer.pk])}']")


def start_reset(page, live_server, checks, card) -> None:
    action = reverse("customers:start_card_password_reset", args=[card.pk])
    form = page.locator(f"form[action='{action}']")
    if not form.count():
        page.goto(live_server.url + reverse("customers:card_detail", args=[card.pk]))
        form = page.locator(f"form[action='{action}']")
    checks.check(page, "card before the reset")
    form.locator("select[name=kind]").select_option("transaction")
    form.locator("select[name=verification_method]").select_option("sms_otp")
    form.locator("input[name=verification_reference]").fill("OTP to 139****, caller confirmed")
    form.locator("select[name=delivery_channel]").select_option("sms")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    checks.check(page, "reset link sent")


def customer_sets_password(browser, checks, language, link: str) -> None:
    context = browser.new_context(locale=BROWSER_LOCALES[language], bypass_csp=True)
    page = context.new_page()
    page.goto(link)
    page.wait_for_url("**/reset/")
    checks.check(page, "customer's reset page")
    # The customer's whole page works from the keyboard.
    tab_until(page, "input[name=password]")
    page.keyboard.type(NEW_CARD_PASSWORD)
    tab_until(page, "input[name=confirmation]", presses=3)
    page.keyboard.type(NEW_CARD_PASSWORD)
    tab_until(page, "form.stacked button[type=submit]", presses=3)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    checks.check(page, "customer's password set")
    screenshot(page, f"{language}-05-customer-password-set")
    context.close()


def log_complaint(page, live_server, checks, customer, card) -> int:
    from backoffice.complaints.models import Complaint

    page.goto(live_server.url + reverse("complaints:log", args=[customer.pk]))
    checks.check(page, "log a complaint")
    page.select_option("select[name=card]", str(card.pk))
    page.select_option("select[name=category]", "debit_failed_after_password_change")
    page.select_option("select[name=channel]", "phone")
    page.fill(
        "textarea[name=description]",
        "Changed the card password in the app; the car-loan debit failed and a late fee followed.",
    )
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")
    complaint = Complaint.objects.filter(customer=customer).order_by("-pk").first()
    checks.check(page, "complaint with its diagnosis")
    assert (
        page.locator("h1").inner_text().startswith(f"Complaint #{complaint.pk}")
        or str(complaint.pk) in page.locator("h1").inner_text()
    )
    return complaint.pk


def walk(browser, live_server, language: str, story, sent_messages, worker_mode: str) -> PageChecks:
    from backoffice.complaints.models import Compensation, Complaint, RootCause
    from backoffice.complaints.services import complaint_diagnosis
    from debits.models import Mandate

    checks = PageChecks(language=language)
    suffix = language.replace("-", "")
    agent = staff("agent", f"agent.{suffix}", language)
    officer = staff("complaints officer", f"officer.{suffix}", language)
    supervisor = staff("supervisor", f"supervisor.{suffix}", language)
    customer = story.stale_after_password_change
    card = customer.cards.get()
    mandate = Mandate.objects.get(card=card, state=Mandate.State.ACTIVE)
    assert not Mandate.objects.in_sync().filter(pk=mandate.pk).exists()

    page = signed_in(browser, live_server, checks, language, *agent)
    # From the top of the page the keyboard reaches the skip link first, then search.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    screenshot(page, f"{language}-01-dashboard")
    search_customer(page, live_server, checks, customer)
    # The timeline at the foot of the page is fetched apart once the page has loaded.
    page.locator("#timeline table").wait_for(timeout=10_000)
    assert page.locator("#timeline tbody tr").count() >= 1
    assert page.locator("#timeline[aria-busy]").count() == 0
    checks.check(page, "customer")
    # The README shows the customer page in Chinese and the operations dashboard in English.
    screenshot(
        page,
        f"{language}-02-customer",
        docs_name="customer-zh-hans.png" if language == "zh-hans" else None,
    )

    start_reset(page, live_server, checks, card)
    screenshot(page, f"{language}-03-reset-link-sent")
    [message] = [m for m in sent_messages if m.topic == "password_reset_link"]
    assert message.recipient == customer.phone
    link = LINK.search(message.body)[0]
    assert link.startswith(f"{live_server.url}/reset/")
    customer_sets_password(browser, checks, language, link)

    wait_until(
        lambda: Mandate.objects.in_sync().filter(pk=mandate.pk).exists(),
        timeout=30,
        message=f"the mandate was not re-synced ({worker_mode})",
    )
    page.goto(live_server.url + reverse("customers:card_detail", args=[card.pk]))
    with translation.override(language):
        in_sync = gettext("In sync")
    badge = page.locator("tr", has_text=mandate.reference).locator(".badge.ok").first
    assert badge.inner_text() == in_sync
    checks.check(page, "card back in sync")
    screenshot(page, f"{language}-06-card-in-sync")

    complaint_id = log_complaint(page, live_server, checks, customer, card)
    screenshot(page, f"{language}-07-complaint")
    _, diagnosis = complaint_diagnosis(Complaint.objects.get(pk=complaint_id))
    assert diagnosis.root_cause == RootCause.BANK_SYNC_FAILURE
    page.context.close()

    page = signed_in(browser, live_server, checks, language, *officer)
    page.goto(live_server.url + reverse("complaints:detail", args=[complaint_id]))
    compensate = page.locator(
        f"form[action='{reverse('complaints:compensate', args=[complaint_id])}']"
    )
    compensate.locator("select[name=kind]").select_option("goodwill")
    compensate.locator("input[name=amount]").fill("300.00")
    compensate.locator("textarea[name=reason]").fill("Two failed re-syncs were the bank's fault")
    with page.expect_navigation():
        compensate.locator("button[type=submit]").click()
    checks.check(page, "compensation asked for")
    compensation = Compensation.objects.get(complaint_id=complaint_id, kind="goodwill")
    assert compensation.state == Compensation.State.AWAITING_APPROVAL
    assert compensation.amount == Decimal("300.00")
    page.context.close()

    page = signed_in(browser, live_server, checks, language, *supervisor)
    page.goto(live_server.url + reverse("complaints:detail", args=[complaint_id]))
    approve = reverse("complaints:compensation_approve", args=[compensation.pk])
    with page.expect_navigation():
        page.locator(f"form[action='{approve}'] button[type=submit]").click()
    checks.check(page, "compensation approved")
    compensation.refresh_from_db()
    assert compensation.state == Compensation.State.APPROVED
    assert compensation.approved_by_id == supervisor[0].pk
    screenshot(page, f"{language}-08-compensation-approved")

    page.goto(live_server.url + reverse("operations:dashboard"))
    checks.check(page, "operations dashboard")
    assert page.locator("h1").count() == 1
    screenshot(
        page,
        f"{language}-09-operations",
        docs_name="operations-en.png" if language == "en" else None,
    )
    page.context.close()
    return checks


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_staff_walk_from_a_failed_resync_to_an_approved_compensation(
    language, live_server, chromium_path, story, sent_messages, resync_worker
):
    require_axe()
    with launched_chromium(chromium_path) as browser:
        checks = walk(browser, live_server, language, story, sent_messages, resync_worker)
    assert len(checks.pages) >= 15
    print(f"{language}: {len(checks.pages)} pages checked by axe-core in {checks.seconds:.1f} s")
    assert not checks.violations, "\n".join(checks.violations)

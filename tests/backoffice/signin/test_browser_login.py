"""A real browser signs in with password and authenticator code and sees the dashboard.

Drives Debian's Chromium through Playwright against pytest-django's live
server (transactional database) and takes a screenshot of the dashboard. The
screenshot goes to pytest's tmp_path, so a test run leaves the work tree clean;
with UPDATE_SCREENSHOTS=1 it replaces docs/screenshots/dashboard.png instead:

    UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/backoffice/signin/test_browser_login.py
"""

import os

import pytest
from django.db.models import F
from django.utils import timezone

from tests.browser.staff_browser import launched_chromium
from tests.conftest import PROJECT_DIR, sign_in_verified  # noqa: F401
from tests.factories import STAFF_PASSWORD, InstalmentFactory, MandateFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOT = PROJECT_DIR / "docs" / "screenshots" / "dashboard.png"


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """Earlier transactional tests flush every table, the role groups (written by
    a data migration) included: put them back for the staff signing in."""
    from accounts.roles import sync_role_groups

    sync_role_groups()


def seed_a_small_book() -> None:
    from accounts.models import Card
    from debits.models import Alert
    from debits.services import raise_alert

    today = timezone.localdate()
    mandates = []
    for n in range(14):
        instalment = InstalmentFactory(due_date=today if n % 3 else today.replace(day=1))
        mandates.append(MandateFactory(loan=instalment.loan))
    # Two customers changed their card password; their mandates are not re-synced yet.
    for mandate in mandates[:2]:
        Card.objects.filter(pk=mandate.card_id).update(
            credential_version=F("credential_version") + 1
        )
    raise_alert(
        kind=Alert.Kind.RESYNC_FAILED,
        dedup_key="browser-demo-1",
        message=f"Mandate {mandates[0].reference} could not be re-synced",
        mandate=mandates[0],
    )


def test_staff_sign_in_with_password_and_code_and_see_the_dashboard(
    live_server, chromium_path, tmp_path
):
    from django_otp.oath import totp

    from accounts.models import AuthenticatorDevice

    update_docs = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    screenshot = DOCS_SCREENSHOT if update_docs else tmp_path / "dashboard.png"
    seed_a_small_book()
    user = StaffUserFactory(username="li.na", first_name="Na", last_name="Li", role="supervisor")
    device = AuthenticatorDevice.objects.create(user=user, name="Authenticator app", confirmed=True)

    with launched_chromium(chromium_path) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 420})
        csp_violations = []
        page.on(
            "console",
            lambda message: (
                csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(f"{live_server.url}/")
        assert "/login/" in page.url
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.click("form.stacked button[type=submit]")
        page.wait_for_url("**/login/verify/**")

        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        page.fill("input[name=otp_token]", f"{code:0{device.digits}d}")
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        assert page.locator("h1").inner_text() == "Dashboard"
        assert page.locator(".kpi .value").first.inner_text() == "14"
        assert not csp_violations, csp_violations
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000

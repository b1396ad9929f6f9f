"""Chinese and English: who gets which language, the switch, and how amounts,
times and codes read in each."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, StaffUser
from accounts.roles import Role
from backoffice.ui.labels import format_yuan
from debits.labels import FAILURE_CODE_LABELS, SKIP_REASON_LABELS
from debits.models import DebitAttempt, DebitRun
from debits.outcomes import OUTCOMES
from debits.services import run_debit_job
from debits.services.eligibility import SkipReason
from simulator.faults import script_fault
from tests.conftest import sign_in_verified
from tests.debit_helpers import due_instalment, eager_celery  # noqa: F401
from tests.factories import STAFF_PASSWORD, StaffUserFactory

pytestmark = pytest.mark.django_db

PROJECT = Path(settings.BASE_DIR)


# --- Who reads which language -----------------------------------------------------


def test_a_new_staff_member_works_in_chinese():
    staff = StaffUser.objects.create_user(username="new.agent", password=STAFF_PASSWORD)
    assert staff.language == "zh-hans"


def test_the_staff_members_language_is_applied_on_every_page_whatever_the_browser_says():
    staff = StaffUserFactory(role=Role.AGENT, language="zh-hans")
    client = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en-US,en"), staff)

    page = client.get(reverse("dashboard"))

    assert 'lang="zh-hans"' in page.content.decode()
    assert "工作台" in page.content.decode()
    assert page.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


def test_signing_in_applies_the_preference_and_the_sign_in_page_keeps_it_after_sign_out():
    staff = StaffUserFactory(role=Role.AGENT, language="zh-hans")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert 'lang="en"' in browser.get(reverse("login")).content.decode()

    signed_in = browser.post(
        reverse("login"), {"username": staff.username, "password": STAFF_PASSWORD}
    )

    assert signed_in.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    browser.post(reverse("logout"))
    assert 'lang="zh-hans"' in browser.get(reverse("login")).content.decode()


def test_the_switch_in_the_header_changes_the_language_and_returns_to_the_page():
    staff = StaffUserFactory(role=Role.OPERATIONS, language="zh-hans")
    client = sign_in_verified(Client(), staff)
    runs = reverse("collection:run_list")
    page = client.get(runs).content.decode()
    assert f'action="{reverse("set_language")}"' in page and 'value="en"' in page

    response = client.post(reverse("set_language"), {"language": "en", "next": runs})

    assert response.status_code == 302 and response["Location"] == runs
    staff.refresh_from_db()
    assert staff.language == "en"
    assert 'lang="en"' in client.get(runs).content.decode()
    event = AuditEvent.objects.get(action="staff.language_changed")
    assert event.actor == staff and event.summary == {"from": "zh-hans", "to": "en"}


def test_the_switch_needs_the_csrf_token_and_never_leaves_the_site():
    staff = StaffUserFactory(role=Role.AGENT, language="en")
    strict = sign_in_verified(Client(enforce_csrf_checks=True), staff)
    assert strict.post(reverse("set_language"), {"language": "zh-hans"}).status_code == 403
    staff.refresh_from_db()
    assert staff.language == "en"

    client = sign_in_verified(Client(), staff)
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    assert client.post(reverse("set_language"), {"language": "fr"}).status_code == 302
    staff.refresh_from_db()
    assert staff.language == "zh-hans"


def test_a_browser_that_names_no_language_gets_chinese():
    html = Client().get(reverse("login")).content.decode()
    assert 'lang="zh-hans"' in html and "员工登录" in html


def test_the_customers_reset_page_follows_the_browser_and_is_not_the_back_office():
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get("/reset/").content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en-GB,en").get("/reset/").content.decode()

    assert 'lang="zh-hans"' in chinese and "请打开银行短信或邮件中的链接设置卡密码" in chinese
    assert 'lang="en"' in english and "Open the link from the bank" in english
    for page in (chinese, english):
        assert "Back office" not in page and "管理后台" not in page
        assert 'href="/"' not in page and "<nav" not in page  # no workspace navigation


# --- Navigation by role -------------------------------------------------------------


def test_agents_are_not_offered_the_django_admin_but_operations_are():
    agent = sign_in_verified(Client(), StaffUserFactory(role=Role.AGENT))
    operations = sign_in_verified(Client(), StaffUserFactory(role=Role.OPERATIONS))
    admin_link = f'href="{reverse("admin:index")}"'

    assert admin_link not in agent.get(reverse("dashboard")).content.decode()
    assert admin_link in operations.get(reverse("dashboard")).content.decode()


def test_every_page_starts_with_a_skip_link_to_the_main_content():
    page = sign_in_verified(Client(), StaffUserFactory(role=Role.AGENT)).get(reverse("dashboard"))
    html = page.content.decode()
    assert html.index('href="#main"') < html.index("<header")
    assert '<main id="main"' in html


# --- Amounts, times, codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("11566.67"), "¥11,566.67"),
        (Decimal("1234567.5"), "¥1,234,567.50"),
        (Decimal("0.005"), "¥0.01"),
        (Decimal("-50"), "-¥50.00"),
        (120, "¥120.00"),
        ("99999999999.99", "¥99,999,999,999.99"),
        (None, ""),
    ],
)
def test_amounts_read_as_yuan_with_thousands_separators_and_two_decimals(amount, shown):
    assert format_yuan(amount) == shown
    rendered = Template("{{ amount|yuan }}").render(Context({"amount": amount}))
    assert rendered == shown


def test_an_amount_is_never_a_float():
    with pytest.raises(TypeError):
        format_yuan(11566.67)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_dates_and_times_read_the_same_in_both_languages_in_shanghai_time(language):
    moment = dt.datetime(2026, 12, 1, 8, 23, tzinfo=dt.UTC)
    template = Template("{{ moment }}|{{ moment|date }}|{{ day }}|{{ moment|time }}")
    with translation.override(language):
        shown = template.render(Context({"moment": moment, "day": dt.date(2026, 12, 1)}))
    assert shown == "2026-12-01 16:23|2026-12-01|2026-12-01|16:23"


def test_csv_exports_give_times_in_shanghai_time():
    auditor = sign_in_verified(Client(), StaffUserFactory(role=Role.AUDITOR))
    AuditEvent.objects.create(
        action="staff.unlocked",
        object_type="accounts.staffuser",
        object_id="1",
        occurred_at=dt.datetime(2026, 12, 1, 8, 23, tzinfo=dt.UTC),
    )
    response = auditor.get(reverse("audit:export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert any(row[0] == "2026-12-01T16:23:00+08:00" for row in rows[1:])


def test_every_failure_code_and_skip_reason_has_a_label_in_both_languages():
    assert set(OUTCOMES) <= set(FAILURE_CODE_LABELS)
    assert {reason.value for reason in SkipReason} <= set(SKIP_REASON_LABELS)
    with translation.override("zh-hans"):
        assert str(FAILURE_CODE_LABELS["insufficient_funds"]) == "余额不足"
        assert str(SKIP_REASON_LABELS["mandate_out_of_sync"]).startswith("代扣协议未同步")


def test_every_audit_action_reads_in_chinese():
    with translation.override("zh-hans"):
        untranslated = [
            action.value
            for action in AuditAction
            if not re.search(r"[\u4e00-\u9fff]", str(action.label))
        ]
        assert str(AuditAction.LATE_FEE_WAIVER_APPROVED.label) == "滞纳金减免已审批"
        chinese = [str(action.label) for action in AuditAction]
    assert not untranslated
    assert len(set(chinese)) == len(chinese), "two actions read the same in Chinese"


def test_the_audit_trail_shows_labels_not_codes(settings):
    auditor = StaffUserFactory(role=Role.AUDITOR, language="zh-hans")
    AuditEvent.objects.create(
        action="late_fee.waiver_approved", object_type="debits.latefee", object_id="2"
    )
    html = sign_in_verified(Client(), auditor).get(reverse("audit:trail")).content.decode()
    assert "滞纳金减免已审批" in html and "滞纳金 #2" in html
    assert ">late_fee.waiver_approved<" not in html and "debits.latefee #2" not in html


def test_the_failed_attempt_list_names_the_customer_and_the_cards_last_four(
    eager_celery,  # noqa: F811
    django_capture_on_commit_callbacks,
):

    _instalment, mandate = due_instalment(due_date=timezone.localdate())
    script_fault(mandate_reference=mandate.reference, outcome="insufficient_funds")
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    assert DebitAttempt.objects.filter(state="failed").exists()
    staff = StaffUserFactory(role=Role.OPERATIONS, language="zh-hans")

    html = sign_in_verified(Client(), staff).get(reverse("collection:attempt_list")).content
    html = html.decode()

    card = mandate.card
    assert card.customer.full_name in html
    card_link = reverse("customers:card_detail", args=[card.pk])
    assert f'<td class="card-ref"><a href="{card_link}">•••• {card.last_four}</a>' in html
    assert card.masked_number not in html
    assert "余额不足" in html and "¥" in html

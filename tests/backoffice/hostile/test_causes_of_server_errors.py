"""Each input that used to answer with HTTP 500, fixed where it arose.

The test client re-raises a view's exception, so a 500 here fails the test with
the exception that caused it.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.messages import get_messages
from django.test import Client
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from accounts.models import PasswordResetRequest
from backoffice.ui.identifiers import MAX_ID, page_number, parse_id, parse_ids
from backoffice.ui.redirects import safe_next_path
from debits.models import MandateSync
from tests.conftest import sign_in_verified
from tests.factories import CardFactory, MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

ENORMOUS = "99999999999999999999"
NOT_IDS = ["abc", "²", "١٢٣", ENORMOUS, "-1", "0", "", "1e5", " 1", "\x00", "1\x00"]


def _superuser() -> Client:
    return sign_in_verified(Client(), StaffUserFactory(is_superuser=True, password=None))


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- The shared parsers ----------------------------------------------------------


@pytest.mark.parametrize("value", NOT_IDS + [None, 3.0, True, [], str(MAX_ID + 1)])
def test_anything_but_ascii_digits_in_range_is_not_an_id(value):
    assert parse_id(value) is None


def test_ids_are_read_in_order_without_repeats():
    assert parse_ids(["7", "²", "3", "7", str(MAX_ID)]) == [7, 3, MAX_ID]
    assert page_number("²") == 1 and page_number(ENORMOUS) == 1 and page_number("4") == 4


@pytest.mark.parametrize(
    "candidate",
    [
        "dashboard",
        "customers:card_detail",
        "nosuchview",
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/ok/\x00",
        "/ok/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_a_next_value_is_kept_only_as_a_path_on_this_site(candidate):
    assert safe_next_path(candidate, "/fallback/") == "/fallback/"


def test_a_path_on_this_site_is_a_valid_next():
    assert safe_next_path("/debits/cards/1/?tab=fees", "/") == "/debits/cards/1/?tab=fees"


# --- The admin's lists and actions -----------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"created_at__year": ENORMOUS},
        {"created_at__year": "-" + ENORMOUS},
        {"created_at__year": "9999"},
        {"created_at__year": "9999", "created_at__month": "12"},
        {"created_at__year": "2026", "created_at__month": ENORMOUS},
        {"created_at__year": "²"},
    ],
)
def test_a_date_drill_down_out_of_range_is_refused_not_an_error(query):
    response = _superuser().get("/admin/debits/mandate/", query)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_a_nul_byte_in_an_admin_filter_is_refused_not_an_error():
    response = _superuser().get("/admin/axes/accesslog/", {"path_info": "/x\x00"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("selected", ["abc", "²", ENORMOUS, "", "\x00", "1e5"])
def test_an_action_on_a_selection_that_is_not_ids_is_refused(selected):
    mandate = MandateFactory()
    client = _superuser()
    response = client.post(
        "/admin/debits/mandate/",
        {"action": "resync_mandates_action", "_selected_action": [str(mandate.pk), selected]},
    )
    assert response.status_code == 302
    assert "The selection was not understood; choose the rows again." in _messages(response)
    assert not MandateSync.objects.exists()


def test_a_third_party_action_refuses_a_selection_that_is_not_ids():
    response = _superuser().post(
        "/admin/auth/group/", {"action": "delete_selected", "_selected_action": ["abc"]}
    )
    assert response.status_code == 302


# --- django-celery-beat's schedule admin and django-axes' clean-up ---------------


@pytest.mark.parametrize("minute", ["-1", "1,,2", "*/0", "60", "abc", "²", ENORMOUS])
def test_a_malformed_crontab_field_is_a_form_error(minute):
    response = _superuser().post(
        "/admin/django_celery_beat/crontabschedule/add/",
        {
            "minute": minute,
            "hour": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": "UTC",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["minute"]
    assert not CrontabSchedule.objects.filter(minute=minute).exists()


def test_a_malformed_crontab_already_stored_still_shows_in_the_lists():
    crontab = CrontabSchedule.objects.create(minute="-1", hour="1,,2")
    task = PeriodicTask.objects.create(name="broken", task="x", crontab=crontab)
    client = _superuser()
    listing = client.get("/admin/django_celery_beat/crontabschedule/")
    assert "Not a valid schedule" in listing.content.decode()
    assert (
        client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").status_code == 200
    )


@pytest.mark.parametrize("args", ["{}", ENORMOUS, "[" * 5000, "not json", "[1]" * 1000])
def test_periodic_task_arguments_must_be_a_json_list(args):
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    response = _superuser().post(
        "/admin/django_celery_beat/periodictask/add/",
        {
            "name": "hostile",
            "regtask": "debits.tasks.resync.sweep_outbox_task",
            "interval": interval.pk,
            "args": args,
            "kwargs": "{}",
            "headers": "{}",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["args"]
    assert not PeriodicTask.objects.filter(name="hostile").exists()


def test_running_a_task_whose_stored_arguments_are_not_json_is_refused():
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    task = PeriodicTask.objects.create(
        name="bad args", task="debits.tasks.resync.sweep_outbox_task", interval=interval, args="{"
    )
    response = _superuser().post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "run_tasks", "_selected_action": [str(task.pk)]},
    )
    assert response.status_code == 302
    assert any("not valid" in m for m in _messages(response))


# --- The staff workspace ---------------------------------------------------------


def test_retrying_attempts_named_by_digits_int_cannot_read_is_refused():
    client = sign_in_verified(Client(), StaffUserFactory(role="operations", password=None))
    response = client.post("/debits/attempts/retry/", {"attempt": ["²", ENORMOUS, "abc"]})
    assert response.status_code == 302
    assert "Select at least one attempt to retry." in _messages(response)


@pytest.mark.parametrize("page", ["²", ENORMOUS, "-1", "\x00"])
def test_a_page_number_that_is_not_one_shows_the_first_page(page):
    client = sign_in_verified(Client(), StaffUserFactory(role="operations", password=None))
    assert client.get("/debits/attempts/", {"page": page}).status_code == 200
    assert client.get("/customers/", {"q": "Wei", "page": page}).status_code == 200


@pytest.mark.parametrize("next_value", ["nosuchview", "dashboard", "customers:card_detail"])
def test_a_next_value_that_is_a_view_name_goes_back_to_the_customer(next_value):
    card = CardFactory()
    client = sign_in_verified(Client(), StaffUserFactory(role="agent", password=None))
    response = client.post(
        f"/cards/{card.pk}/password-reset/", {"next": next_value, "identity_verified": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{card.customer_id}/"
    assert not PasswordResetRequest.objects.exists()


@pytest.mark.parametrize("next_value", ["nosuchview", "dashboard", "//evil.example/"])
def test_a_next_value_that_is_a_view_name_after_the_second_factor_goes_to_the_dashboard(
    next_value,
):
    response = _superuser().get("/login/verify/", {"next": next_value})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_an_export_asked_for_with_a_nul_byte_in_a_filter_is_refused_not_an_error():
    client = sign_in_verified(Client(), StaffUserFactory(role="operations", password=None))
    response = client.get("/debits/attempts/export.csv", {"loan": "LN\x00", "run": "x" * 500})
    assert response.status_code < 500
    b"".join(getattr(response, "streaming_content", [response.content]))


def test_a_username_longer_than_any_is_a_form_error_at_sign_in():
    response = Client().post("/login/", {"username": "x" * 5000, "password": "whatever"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not AccessAttempt.objects.exists()


def test_a_refused_card_form_shows_its_customer_field_again_whatever_was_posted():
    response = _superuser().post("/admin/accounts/card/add/", {"customer": "²", "card_number": "x"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["customer"]


def test_an_action_on_rows_that_no_longer_exist_is_refused():
    response = _superuser().post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "enable_tasks", "_selected_action": ["999999"]},
    )
    assert "None of the selected rows exists any more." in _messages(response)

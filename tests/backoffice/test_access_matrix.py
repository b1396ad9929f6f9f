"""The role matrix, walked: every URL pattern and admin action × every role.

``MATRIX`` is the code form of the table in docs/security.md. Each named URL
pattern in the resolver (the admin's included) must have a row, or
``test_every_url_pattern_has_a_row_in_the_matrix`` fails: a new page cannot
ship without someone deciding who may open it. Admin model pages take their
row from ``ADMIN_MODELS`` (view / add / change / delete per model), admin
actions from ``ADMIN_ACTIONS``.

Allowed means a 2xx or 3xx answer, denied a 403 (or the status a row names).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.roles import Role
from tests.conftest import sign_in_verified
from tests.factories import (
    CardCredentialFactory,
    ComplaintFactory,
    InstalmentFactory,
    MandateFactory,
    StaffUserFactory,
)

AGENT = Role.AGENT.value
COMPLAINTS = Role.COMPLAINTS_OFFICER.value
OPERATIONS = Role.OPERATIONS.value
SUPERVISOR = Role.SUPERVISOR.value
AUDITOR = Role.AUDITOR.value
ADMIN = Role.ADMIN.value

ALL = frozenset(role.value for role in Role)
NOBODY: frozenset[str] = frozenset()
# Those who work with customers' books (every role but the technical admin).
BOOK = frozenset({AGENT, COMPLAINTS, OPERATIONS, SUPERVISOR, AUDITOR})
# Those who watch debit runs, alerts and schedules.
OPS_WATCH = frozenset({OPERATIONS, SUPERVISOR, AUDITOR, ADMIN})
# Those who log complaints and those who read them; those who handle them.
COMPLAINT_READERS = frozenset({AGENT, COMPLAINTS, SUPERVISOR, AUDITOR})
COMPLAINT_HANDLERS = frozenset({COMPLAINTS, SUPERVISOR})
COMPLAINT_RECORDS = frozenset({COMPLAINTS, SUPERVISOR, AUDITOR})


@dataclass(frozen=True)
class Row:
    """Who may open one URL pattern."""

    roles: frozenset[str]
    # Builds the URL's keyword arguments from the ``world`` objects.
    kwargs: Callable[[World], dict] | None = None
    method: str = "get"
    query: str = ""
    # Reachable without signing in (the sign-in pages, the customers' reset pages).
    public: bool = False
    # What a denied role gets, when it is not a 403 (e.g. the admin's 404 for an app
    # the person has nothing to see in).
    denied_status: int = 403
    why: str = ""


@dataclass
class World:
    """One object of each kind, so URLs that take an id have something to open."""

    objects: dict[str, object] = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def first_of(label: str):
        """Any row of the model (None when there is none: its object pages are not walked)."""
        from django.apps import apps

        return apps.get_model(label)._default_manager.order_by("pk").first()


def _pk(name: str, kwarg: str = "pk") -> Callable[[World], dict]:
    return lambda world: {kwarg: getattr(world, name).pk}


MATRIX: dict[str, Row] = {
    # --- Sign-in ----------------------------------------------------------------
    "login": Row(ALL, public=True),
    "logout": Row(ALL, method="post", public=True),
    "set_language": Row(
        ALL,
        method="post",
        public=True,
        why="the header's language switch: a cookie, and the staff member's preference",
    ),
    "signin:verify": Row(ALL, why="redirects a verified session onwards"),
    "signin:enrol": Row(ALL, why="redirects anyone already enrolled"),
    # --- Workspace --------------------------------------------------------------
    "dashboard": Row(ALL),
    "audit:trail": Row(frozenset({SUPERVISOR, AUDITOR, ADMIN})),
    "audit:export": Row(frozenset({AUDITOR})),
    # --- Staff security ---------------------------------------------------------
    "signin:locked_staff": Row(frozenset({SUPERVISOR, ADMIN})),
    "signin:staff_list": Row(frozenset({ADMIN})),
    "signin:reset_second_factor": Row(frozenset({ADMIN}), kwargs=_pk("other_staff")),
    "customers:reveal_phone": Row(frozenset({COMPLAINTS, SUPERVISOR}), kwargs=_pk("customer")),
    # Maker-checker: admins ask, another admin or a supervisor decides.
    "signin:staff_changes": Row(frozenset({SUPERVISOR, ADMIN})),
    "signin:ask_for_staff_change": Row(frozenset({ADMIN}), kwargs=_pk("other_staff")),
    "signin:decide_staff_change": Row(
        frozenset({SUPERVISOR, ADMIN}),
        kwargs=_pk("staff_change"),
        method="post",
        why="without a decision it redirects back with an error",
    ),
    "signin:staff_password_reset_link": Row(
        ALL,
        kwargs=lambda world: {"token": "not-a-real-token"},
        public=True,
        why="a staff member's own reset link: moves the token into the session and redirects",
    ),
    "signin:staff_password_reset_form": Row(
        ALL, public=True, why="a staff member's own reset page"
    ),
    # --- Customers and cards ----------------------------------------------------
    "customers:customer_search": Row(BOOK),
    "customers:customer_detail": Row(BOOK, kwargs=_pk("customer")),
    "customers:admin_search": Row(
        ALL,
        method="post",
        why="the admin's search box: redirects to the changelist, which checks the model",
    ),
    "customers:start_card_password_reset": Row(
        frozenset({AGENT, SUPERVISOR}),
        kwargs=_pk("card", "card_id"),
        method="post",
        why="an empty form redirects back with an error; staff never set the password",
    ),
    # The customers' own pages, opened from the link in an SMS or email.
    "customers:password_reset_link": Row(
        ALL,
        kwargs=lambda world: {"token": "not-a-real-token"},
        public=True,
        why="the customer's link: moves the token into the session and redirects",
    ),
    "customers:password_reset_form": Row(ALL, public=True, why="the customer's reset page"),
    "customers:card_detail": Row(BOOK, kwargs=_pk("card")),
    "customers:resync_mandate_now": Row(
        frozenset({COMPLAINTS, OPERATIONS, SUPERVISOR}), kwargs=_pk("mandate"), method="post"
    ),
    # --- Debits -----------------------------------------------------------------
    "collection:run_list": Row(OPS_WATCH),
    "collection:run_detail": Row(OPS_WATCH, kwargs=_pk("debit_run")),
    "collection:run_progress": Row(OPS_WATCH, kwargs=_pk("debit_run")),
    "collection:start_run": Row(frozenset({OPERATIONS, SUPERVISOR})),
    "collection:attempt_list": Row(BOOK),
    "collection:retry_attempts": Row(
        frozenset({COMPLAINTS, OPERATIONS, SUPERVISOR}),
        method="post",
        why="an empty selection redirects back with an error",
    ),
    "collection:attempt_export": Row(frozenset({OPERATIONS, SUPERVISOR})),
    "collection:pause_list": Row(OPS_WATCH),
    "collection:pause_create": Row(
        frozenset({OPERATIONS, SUPERVISOR}),
        method="post",
        why="a form without a chosen target redirects back with an error",
    ),
    "collection:pause_resume": Row(
        frozenset({OPERATIONS, SUPERVISOR}),
        kwargs=_pk("collection_pause"),
        method="post",
        why="without a reason it redirects back with an error",
    ),
    "collection:fee_waive": Row(
        frozenset({COMPLAINTS, SUPERVISOR}),
        kwargs=_pk("late_fee"),
        method="post",
        why="without a reason it redirects back with an error",
    ),
    "collection:fee_approve": Row(
        frozenset({SUPERVISOR}),
        kwargs=_pk("late_fee"),
        method="post",
        why="a fee with no pending waiver redirects back with an error",
    ),
    # --- Complaints ---------------------------------------------------------------
    "complaints:queue": Row(COMPLAINT_READERS),
    "complaints:log": Row(
        frozenset({AGENT, COMPLAINTS, SUPERVISOR}), kwargs=_pk("customer", "customer_id")
    ),
    "complaints:detail": Row(COMPLAINT_READERS, kwargs=_pk("complaint")),
    "complaints:card_timeline": Row(BOOK, kwargs=_pk("card", "card_id")),
    "complaints:approvals": Row(frozenset({SUPERVISOR})),
    "complaints:report": Row(COMPLAINT_RECORDS),
    "complaints:report_export": Row(COMPLAINT_RECORDS),
    **{
        f"complaints:{name}": Row(
            COMPLAINT_HANDLERS,
            kwargs=_pk("complaint"),
            method="post",
            why="an empty form redirects back to the complaint with an error",
        )
        for name in ("assign", "extend", "decide", "close", "reopen", "remedy", "compensate")
    },
    "complaints:compensation_approve": Row(
        frozenset({SUPERVISOR}),
        kwargs=_pk("compensation"),
        method="post",
        why="the requester's own approval is refused with a message",
    ),
    "complaints:compensation_reject": Row(
        COMPLAINT_HANDLERS,
        kwargs=_pk("compensation"),
        method="post",
        why="without a reason it redirects back with an error",
    ),
    "complaints:compensation_confirm": Row(
        COMPLAINT_HANDLERS,
        kwargs=_pk("compensation"),
        method="post",
        why="a compensation that is not a proposal redirects back with an error",
    ),
    # --- Operations ---------------------------------------------------------------
    "operations:dashboard": Row(frozenset({OPERATIONS, SUPERVISOR, ADMIN})),
    "operations:alert_acknowledge": Row(
        frozenset({OPERATIONS, SUPERVISOR}), kwargs=_pk("alert"), method="post"
    ),
    "operations:alert_resolve": Row(
        frozenset({OPERATIONS, SUPERVISOR}),
        kwargs=_pk("alert"),
        method="post",
        why="without a note it redirects back with an error",
    ),
    "operations:emergency_action": Row(
        frozenset({OPERATIONS}),
        kwargs=lambda world: {"action": "pause_all"},
        why="the confirmation page; nothing happens before the confirmed POST",
    ),
    # For load balancers and Prometheus: no sign-in, callers on the allow-list
    # (the test client's 127.0.0.1) or with the token.
    "healthz": Row(ALL, public=True, why="liveness probe"),
    "readyz": Row(ALL, public=True, why="readiness probe (the world's workers and beat are fresh)"),
    "metrics": Row(ALL, public=True, why="Prometheus scrape"),
    # --- Admin site pages that are not a model's ---------------------------------
    "admin:index": Row(ALL, why="shows only the models a role may see"),
    "admin:login": Row(ALL, public=True, why="redirects to the staff sign-in"),
    "admin:logout": Row(ALL, method="post", public=True),
    "admin:password_change": Row(ALL),
    "admin:password_change_done": Row(ALL),
    "admin:jsi18n": Row(ALL),
    "admin:autocomplete": Row(
        BOOK,
        query="app_label=accounts&model_name=card&field_name=customer",
        why="needs view permission on the card",
    ),
    "admin:view_on_site": Row(
        NOBODY,
        kwargs=lambda world: {
            "content_type_id": ContentType.objects.get_for_model(world.customer).pk,
            "object_id": world.customer.pk,
        },
        denied_status=404,
        why="no model has a public page: 404 for everyone, never the object",
    ),
    "admin:app_list": Row(ALL, kwargs=lambda world: {"app_label": "accounts"}, denied_status=404),
    "admin:auth_user_password_change": Row(
        NOBODY,
        kwargs=lambda world: {"id": world.other_staff.pk},
        why="nobody sets another person's password (a reset sends them a link)",
    ),
}


@dataclass(frozen=True)
class AdminModelRow:
    view: frozenset[str] = NOBODY
    add: frozenset[str] = NOBODY
    change: frozenset[str] = NOBODY
    delete: frozenset[str] = NOBODY


_READ_BOOK = AdminModelRow(view=BOOK)
_READ_OPS = AdminModelRow(view=OPS_WATCH)
# Staff-only or machine records no role opens in the admin (superusers only).
_SUPERUSER_ONLY = AdminModelRow()

ADMIN_MODELS: dict[str, AdminModelRow] = {
    "accounts.staffuser": AdminModelRow(
        view=frozenset({AUDITOR, ADMIN}), add=frozenset({ADMIN}), change=frozenset({ADMIN})
    ),
    "accounts.customer": _READ_BOOK,
    "accounts.card": _READ_BOOK,
    "accounts.cardcredential": _SUPERUSER_ONLY,
    # Each kind's state is on the card page; the admin rows are the machine's.
    "accounts.cardauthenticator": _SUPERUSER_ONLY,
    "debits.debitrunchunk": _SUPERUSER_ONLY,
    "debits.reconciliationpass": _SUPERUSER_ONLY,
    "debits.workerheartbeat": _SUPERUSER_ONLY,
    "debits.operationssnapshot": _SUPERUSER_ONLY,
    "debits.debitdayfigures": _SUPERUSER_ONLY,
    "accounts.passwordchange": _READ_BOOK,
    "accounts.passwordresetrequest": _READ_BOOK,
    "accounts.auditevent": AdminModelRow(view=frozenset({SUPERVISOR, AUDITOR, ADMIN})),
    "accounts.outboxevent": _READ_OPS,
    "accounts.customernotice": _READ_BOOK,
    "complaints.complaint": AdminModelRow(
        view=COMPLAINT_READERS, add=frozenset({AGENT, COMPLAINTS, SUPERVISOR})
    ),
    "complaints.compensation": AdminModelRow(view=COMPLAINT_RECORDS),
    "complaints.repairpromise": AdminModelRow(view=COMPLAINT_RECORDS),
    "complaints.deadlineextension": AdminModelRow(view=COMPLAINT_RECORDS),
    "complaints.complaintassignment": AdminModelRow(view=COMPLAINT_RECORDS),
    "auth.group": AdminModelRow(view=frozenset({ADMIN})),
    "debits.loan": _READ_BOOK,
    "debits.instalment": _READ_BOOK,
    "debits.mandate": _READ_BOOK,
    "debits.mandatesync": _READ_BOOK,
    "debits.debitattempt": _READ_BOOK,
    "debits.latefee": _READ_BOOK,
    "debits.debitrun": _READ_OPS,
    "debits.skippedinstalment": _READ_OPS,
    "debits.collectionpause": _READ_OPS,
    "debits.alert": _READ_OPS,
    "simulator.simulatedagreement": _SUPERUSER_ONLY,
    "simulator.simulatedcardcredential": _SUPERUSER_ONLY,
    "simulator.simulatedcollection": _SUPERUSER_ONLY,
    "simulator.simulatedfault": _SUPERUSER_ONLY,
    "simulator.simulatedpresentation": _SUPERUSER_ONLY,
    "django_celery_beat.periodictask": AdminModelRow(
        view=OPS_WATCH, change=frozenset({OPERATIONS})
    ),
    "django_celery_beat.crontabschedule": AdminModelRow(
        view=OPS_WATCH, add=frozenset({OPERATIONS}), change=frozenset({OPERATIONS})
    ),
    "django_celery_beat.intervalschedule": _SUPERUSER_ONLY,
    "django_celery_beat.clockedschedule": _SUPERUSER_ONLY,
    "django_celery_beat.solarschedule": _SUPERUSER_ONLY,
    # Sign-in history: auditors read it; unlocking is the supervisors' staff page.
    "axes.accessattempt": AdminModelRow(view=frozenset({AUDITOR})),
    "axes.accesslog": AdminModelRow(view=frozenset({AUDITOR})),
    "axes.accessfailurelog": AdminModelRow(view=frozenset({AUDITOR})),
}

# (model, action) -> roles offered the action. ``delete_selected`` follows the
# model's delete permission and needs no row.
ADMIN_ACTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("django_celery_beat.periodictask", "enable_tasks"): frozenset({OPERATIONS}),
    ("django_celery_beat.periodictask", "disable_tasks"): frozenset({OPERATIONS}),
    ("django_celery_beat.periodictask", "toggle_tasks"): frozenset({OPERATIONS}),
    ("django_celery_beat.periodictask", "run_tasks"): frozenset({OPERATIONS}),
    ("accounts.staffuser", "reset_second_factor"): frozenset({ADMIN}),
    ("accounts.staffuser", "disable_staff"): frozenset({ADMIN}),
    ("accounts.card", "start_password_reset_action"): frozenset({AGENT, SUPERVISOR}),
    ("debits.mandate", "resync_mandates_action"): frozenset({COMPLAINTS, OPERATIONS, SUPERVISOR}),
    ("debits.mandate", "pause_mandates_action"): frozenset({OPERATIONS, SUPERVISOR}),
    ("debits.debitattempt", "retry_debit_attempts_action"): frozenset(
        {COMPLAINTS, OPERATIONS, SUPERVISOR}
    ),
    ("debits.collectionpause", "resume_pauses_action"): frozenset({OPERATIONS, SUPERVISOR}),
}

_ADMIN_MODEL_URL = re.compile(
    r"^admin:(?P<app>[a-z0-9_]+?)_(?P<model>[a-z0-9]+)_"
    r"(?P<view>changelist|add|change|delete|history)$"
)


# --- Enumerating the resolver ----------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    name: str | None
    route: str
    callback: Callable | None = None


def all_url_patterns() -> list[Pattern]:
    def walk(patterns, prefix: str, namespace: str):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}{entry.name}" if entry.name else None
                yield Pattern(name, prefix + str(entry.pattern), entry.callback)

    return list(walk(get_resolver().url_patterns, "", ""))


def _admin_model_label(app: str, model: str) -> str | None:
    for registered in admin.site._registry:
        if (registered._meta.app_label, registered._meta.model_name) == (app, model):
            return registered._meta.label_lower
    return None


def row_for(name: str) -> Row | None:
    if name in MATRIX:
        return MATRIX[name]
    match = _ADMIN_MODEL_URL.match(name)
    if not match:
        return None
    label = _admin_model_label(match["app"], match["model"])
    if label is None or label not in ADMIN_MODELS:
        return None
    model_row = ADMIN_MODELS[label]
    view = match["view"]
    see = model_row.view | model_row.change
    roles = {
        "changelist": see,
        "history": see,
        "change": see,
        "add": model_row.add,
        "delete": model_row.delete,
    }[view]

    def object_kwargs(world: World) -> dict | None:
        instance = world.first_of(label)
        return None if instance is None else {"object_id": instance.pk}

    needs_object = view in {"change", "delete", "history"}
    return Row(roles, kwargs=object_kwargs if needs_object else None)


def _is_admin_internal(pattern: Pattern) -> bool:
    # The admin's unnamed redirects (object URL without "change/", catch-all).
    return pattern.name is None and pattern.route.startswith("admin/")


# --- The world and the role clients ----------------------------------------------


@pytest.fixture
def world(db):
    from django_celery_beat.models import PeriodicTask

    from accounts.models import AuthenticatorDevice, StaffChangeRequest
    from backoffice.complaints.models import Compensation
    from debits.models import Alert, CollectionPause, DebitRun, LateFee, WorkerHeartbeat

    instalment = InstalmentFactory(due_date=dt.date.today())
    mandate = MandateFactory(loan=instalment.loan)
    CardCredentialFactory(card=mandate.card)
    other_staff = StaffUserFactory(role=AGENT)
    debit_run = DebitRun.objects.create(run_date=dt.date.today())
    late_fee = LateFee.objects.create(instalment=instalment, amount=Decimal("50.00"))
    collection_pause = CollectionPause.objects.create(
        scope="mandate", mandate=mandate, reason="Matrix", paused_by=other_staff
    )
    complaint = ComplaintFactory(card=mandate.card, logged_by=other_staff)
    compensation = Compensation.objects.create(
        complaint=complaint,
        kind=Compensation.Kind.GOODWILL,
        amount=Decimal("500.00"),
        # What a Chinese officer would type: staff-entered text is shown as typed.
        reason="客户投诉补偿",
        state=Compensation.State.AWAITING_APPROVAL,
        requested_by=other_staff,
    )
    alert = Alert.objects.create(kind="mandate_drift", dedup_key="matrix", message="Matrix")
    # Fresh heartbeats, so /readyz answers 200 like the probe of a healthy instance.
    now = timezone.now()
    for queue in ("default", "resync", "debits"):
        WorkerHeartbeat.objects.create(queue=queue, beat_at=now)
    PeriodicTask.objects.filter(enabled=True).update(last_run_at=now)
    return World(
        objects={
            "customer": mandate.card.customer,
            "card": mandate.card,
            "mandate": mandate,
            "instalment": instalment,
            "other_staff": other_staff,
            "staff_change": StaffChangeRequest.objects.create(
                staff=other_staff,
                kind=StaffChangeRequest.Kind.GRANT_ROLE,
                role=SUPERVISOR,
                reason="Covering the team lead",
                requested_by=StaffUserFactory(role=ADMIN),
            ),
            "totp_device": AuthenticatorDevice.objects.create(user=other_staff, confirmed=True),
            "debit_run": debit_run,
            "late_fee": late_fee,
            "collection_pause": collection_pause,
            "complaint": complaint,
            "compensation": compensation,
            "alert": alert,
        }
    )


def _request(client: Client, row: Row, url: str):
    if row.method == "post":
        return client.post(url)
    return client.get(f"{url}?{row.query}" if row.query else url)


def _client_for(user) -> Client:
    return sign_in_verified(Client(), user)


def _url(pattern: Pattern, row: Row, world: World) -> str | None:
    kwargs = row.kwargs(world) if row.kwargs else {}
    if kwargs is None:
        return None
    return reverse(pattern.name, kwargs=kwargs)


# --- The tests --------------------------------------------------------------------


def test_every_url_pattern_has_a_row_in_the_matrix():
    missing = [
        f"{p.name or '(unnamed)'}  /{p.route}"
        for p in all_url_patterns()
        if not _is_admin_internal(p) and (p.name is None or row_for(p.name) is None)
    ]
    assert not missing, "URL patterns without a row in the access matrix:\n" + "\n".join(missing)


def test_every_registered_admin_model_and_action_has_a_row(db):
    missing = [
        model._meta.label_lower
        for model in admin.site._registry
        if model._meta.label_lower not in ADMIN_MODELS
    ]
    assert not missing, f"admin models without a row in ADMIN_MODELS: {missing}"
    missing_actions = [
        key
        for key in _all_admin_actions()
        if key[1] != "delete_selected" and key not in ADMIN_ACTIONS
    ]
    assert not missing_actions, f"admin actions without a row: {missing_actions}"


# Views that are not staff pages: signing in, and the customers' own reset pages.
NOT_STAFF_VIEWS = frozenset(
    {
        "login",
        "logout",
        "set_language",
        "signin:verify",
        "signin:enrol",
        "customers:password_reset_link",
        "customers:password_reset_form",
        "signin:staff_password_reset_link",
        "signin:staff_password_reset_form",
        "healthz",
        "readyz",
        "metrics",
    }
)


def test_no_one_can_read_a_second_factor_secret_in_the_admin():
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import AuthenticatorDevice, BackupCode, BackupCodeDevice

    for model in (TOTPDevice, StaticDevice, AuthenticatorDevice, BackupCodeDevice, BackupCode):
        assert not admin.site.is_registered(model)


def test_every_staff_page_declares_the_permission_it_needs():
    """Each non-admin staff view is wrapped by staff_permission_required (or
    staff_login_required), which is what the matrix walk then exercises."""
    undeclared = [
        p.name
        for p in all_url_patterns()
        if p.name
        and not p.name.startswith("admin:")
        and p.name not in NOT_STAFF_VIEWS
        and getattr(p.callback, "required_permissions", None) is None
    ]
    assert not undeclared, f"staff views without staff_permission_required: {undeclared}"


def test_the_matrix_has_no_row_for_a_url_that_is_gone():
    names = {p.name for p in all_url_patterns() if p.name}
    assert not set(MATRIX) - names


def _all_admin_actions() -> list[tuple[str, str]]:
    superuser = StaffUserFactory.build(is_superuser=True, is_staff=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    keys = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.get_actions(request):
            keys.append((model._meta.label_lower, action))
    return keys


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_reaches_exactly_the_pages_its_row_allows(role, world):
    user = StaffUserFactory(role=role)
    shared = _client_for(user)
    mismatches = []
    for pattern in all_url_patterns():
        if pattern.name is None:
            continue
        row = row_for(pattern.name)
        if row is None:
            continue  # reported by test_every_url_pattern_has_a_row_in_the_matrix
        url = _url(pattern, row, world)
        if url is None:
            continue
        # A POST (sign-out, say) gets a session of its own so it cannot end the shared one.
        response = _request(_client_for(user) if row.method == "post" else shared, row, url)
        allowed = role in row.roles
        ok = (
            200 <= response.status_code < 400
            if allowed
            else (response.status_code == row.denied_status)
        )
        if not ok:
            expected = "2xx/3xx" if allowed else str(row.denied_status)
            mismatches.append(
                f"{pattern.name} {row.method.upper()} {url}: {response.status_code}, "
                f"expected {expected}"
            )
    assert not mismatches, f"role {role!r}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_is_offered_exactly_the_admin_actions_its_row_allows(role, db):
    user = StaffUserFactory(role=role)
    request = RequestFactory().get("/admin/")
    request.user = user
    mismatches = []
    every_action = _all_admin_actions()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        offered = set(model_admin.get_actions(request))
        for key in {k for k in every_action if k[0] == label}:
            if key[1] == "delete_selected":
                allowed = role in ADMIN_MODELS.get(label, _SUPERUSER_ONLY).delete
            else:
                allowed = role in ADMIN_ACTIONS.get(key, NOBODY)
            if (key[1] in offered) != allowed:
                mismatches.append(f"{key}: offered={key[1] in offered}, allowed={allowed}")
    assert not mismatches, f"role {role!r}:\n" + "\n".join(mismatches)


def test_a_visitor_who_is_not_signed_in_reaches_only_public_pages(client, world):
    wrong = []
    for pattern in all_url_patterns():
        row = row_for(pattern.name) if pattern.name else None
        if row is None:
            continue
        url = _url(pattern, row, world)
        if url is None:
            continue
        response = _request(client, row, url)
        if row.public:
            if not 200 <= response.status_code < 400:
                wrong.append(f"{url}: {response.status_code} for a public page")
        elif response.status_code not in (302, 403, 404) or (
            response.status_code == 302 and "login" not in response["Location"]
        ):
            wrong.append(f"{url}: {response.status_code} {response.get('Location', '')}")
    assert not wrong, "\n".join(wrong)


# --- The documented matrix ----------------------------------------------------------

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
_BEGIN = "<!-- access-matrix:begin (generated from tests/backoffice/test_access_matrix.py) -->"
_END = "<!-- access-matrix:end -->"
_ROLE_ORDER = [AGENT, COMPLAINTS, OPERATIONS, SUPERVISOR, AUDITOR, ADMIN]


def render_matrix_markdown() -> str:
    routes = {p.name: p.route for p in all_url_patterns() if p.name}
    header = "| " + " | ".join(["Page or action", "URL", *_ROLE_ORDER]) + " |"
    rule = "|" + "---|" * (2 + len(_ROLE_ORDER))
    lines = ["### Pages", "", header, rule]
    for name, row in MATRIX.items():
        if name.startswith("admin:"):
            continue
        cells = ["✓" if role in row.roles else "—" for role in _ROLE_ORDER]
        method = " (POST)" if row.method == "post" else ""
        public = " (also without sign-in)" if row.public else ""
        lines.append(
            f"| `{name}`{method}{public} | `/{routes.get(name, '?')}` | " + " | ".join(cells) + " |"
        )
    lines += ["", "### Admin models (V view, A add, C change, D delete)", ""]
    lines += [
        "| " + " | ".join(["Model", *_ROLE_ORDER]) + " |",
        "|" + "---|" * (1 + len(_ROLE_ORDER)),
    ]
    for label, model_row in sorted(ADMIN_MODELS.items()):
        cells = []
        for role in _ROLE_ORDER:
            letters = "".join(
                letter
                for letter, roles in (
                    ("V", model_row.view | model_row.change),
                    ("A", model_row.add),
                    ("C", model_row.change),
                    ("D", model_row.delete),
                )
                if role in roles
            )
            cells.append(letters or "—")
        lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    lines += ["", "### Admin actions", ""]
    lines += [
        "| " + " | ".join(["Model", "Action", *_ROLE_ORDER]) + " |",
        "|" + "---|" * (2 + len(_ROLE_ORDER)),
    ]
    for (label, action), roles in sorted(ADMIN_ACTIONS.items()):
        cells = ["✓" if role in roles else "—" for role in _ROLE_ORDER]
        lines.append(f"| `{label}` | `{action}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Admin-site pages that belong to no model (index, password change, autocomplete, "
        "...) are rows of the same test; every role reaches the index, which lists only "
        "what the role may see.",
    ]
    return "\n".join(lines)


def test_the_documented_matrix_is_the_one_the_tests_enforce():
    """docs/security.md carries this table; regenerate with UPDATE_SECURITY_DOC=1."""
    import os

    text = SECURITY_DOC.read_text()
    begin, end = text.index(_BEGIN) + len(_BEGIN), text.index(_END)
    expected = "\n" + render_matrix_markdown() + "\n"
    if os.environ.get("UPDATE_SECURITY_DOC") == "1":
        SECURITY_DOC.write_text(text[:begin] + expected + text[end:])
        return
    assert text[begin:end] == expected, (
        "docs/security.md's access matrix differs from the tested one; "
        "run with UPDATE_SECURITY_DOC=1 to regenerate it"
    )

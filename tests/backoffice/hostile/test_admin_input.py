"""Hostile input to every registered ModelAdmin, ours and third-party: its list
(filters, the date drill-down, search, ordering, paging), its change form and
every action it offers. The answer is a page, a redirect with a message, or a
4xx; a refused input writes nothing, a form the admin accepts is saved whole.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from backoffice.ui.identifiers import parse_id
from tests.backoffice.hostile.conftest import Unchanged, assert_clear_answer, generated
from tests.backoffice.hostile.inputs import ENORMOUS, hostile_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
ADMIN_IDS = [model._meta.label for model, _ in MODEL_ADMINS]
# The few values that broke admin pages before, tried on every admin.
HAND_PICKED_FOR_ADMIN = [ENORMOUS, "9999", "²", "\x00", "' OR 1=1 --"]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _list_keys(model_admin) -> list[str]:
    keys = ["q", "o", "p", "all", "_to_field", "e"]
    for entry in model_admin.list_filter:
        name = entry[0] if isinstance(entry, tuple | list) else entry
        if isinstance(name, str):
            keys += [name, f"{name}__exact", f"{name}__isnull", f"{name}__id__exact"]
            keys += [f"{name}__in", f"{name}__gte"]
    if model_admin.date_hierarchy:
        keys += [f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return keys


def _request_as(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _try_list(client, model, model_admin, query: dict):
    with Unchanged(f"admin list {model._meta.label}"):
        response = client.get(_url(model, "changelist"), query)
        assert_clear_answer(response, model._meta.label, 200, 302, 400, 403)


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_an_admin_list_answers_hostile_filters_clearly(model, model_admin, staff_client, book):
    keys = _list_keys(model_admin)
    for value in HAND_PICKED_FOR_ADMIN:
        date_key = f"{model_admin.date_hierarchy}__year" if model_admin.date_hierarchy else "q"
        _try_list(staff_client, model, model_admin, {date_key: value})
        _try_list(staff_client, model, model_admin, {keys[-1]: value, "q": value})

    @generated()
    @given(query=st.dictionaries(st.sampled_from(keys), hostile_text, min_size=1, max_size=3))
    def attempt(query):
        _try_list(staff_client, model, model_admin, query)

    attempt()


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_an_admin_change_form_answers_a_hostile_object_id_clearly(
    model, model_admin, staff_client, book
):
    @generated(0.5)
    @given(object_id=hostile_text)
    def attempt(object_id):
        with Unchanged(f"admin change form {model._meta.label}"):
            response = staff_client.get(_url(model, "change", quote(object_id) or "0"))
            assert_clear_answer(response, model._meta.label, 200, 302, 400, 403, 404)

    attempt()


def _actions_of(model_admin, user) -> list[str]:
    return list(model_admin.get_actions(_request_as(user)))


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_every_admin_action_refuses_a_hostile_selection(model, model_admin, staff_client, book):
    actions = _actions_of(model_admin, book.staff)
    if not actions:
        pytest.skip(f"{model._meta.label} offers no action")
    existing = set(model.objects.values_list("pk", flat=True))

    def try_selection(action: str, selected: list[str]):
        # A selection that names real rows is a real request: the action may act.
        real = [parse_id(value) for value in selected]
        acts = all(pk in existing for pk in real)
        if book.staff.pk in real:
            return  # acting on oneself (disable, reset the factor) ends the session
        with Unchanged(f"admin action {model._meta.label}.{action}", expect_unchanged=not acts):
            response = staff_client.post(
                _url(model, "changelist"), {"action": action, "_selected_action": selected}
            )
            assert_clear_answer(response, f"{model._meta.label}.{action}", 200, 302, 400, 403)

    for action in actions:
        for value in HAND_PICKED_FOR_ADMIN + ["abc", ""]:
            try_selection(action, [value])

    @generated(0.5)
    @given(
        action=st.sampled_from(actions),
        selected=st.lists(hostile_text, min_size=1, max_size=3),
    )
    def attempt(action, selected):
        try_selection(action, selected)

    attempt()


def _editable(model_admin, user) -> bool:
    return model_admin.has_add_permission(_request_as(user))


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_an_admin_add_form_refuses_hostile_fields_or_saves_them_whole(
    model, model_admin, staff_client, book
):
    if not _editable(model_admin, book.staff):
        pytest.skip(f"{model._meta.label} is not added through the admin")
    fields = list(model_admin.get_form(_request_as(book.staff))().fields)

    def try_form(data: dict):
        with Unchanged(f"admin add form {model._meta.label}") as check:
            response = staff_client.post(_url(model, "add"), data)
            assert_clear_answer(response, model._meta.label, 200, 302, 400, 403)
            # Saved (a redirect) is a whole, valid row; re-shown (200) wrote nothing.
            check.expect_unchanged = response.status_code != 302

    for value in HAND_PICKED_FOR_ADMIN:
        try_form(dict.fromkeys(fields, value))

    @generated(0.5)
    @given(data=st.fixed_dictionaries({}, optional=dict.fromkeys(fields, hostile_text)))
    def attempt(data):
        try_form(data)

    attempt()

"""What the complaint page's forms report back, in the language of the person acting."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from backoffice.complaints.models import Complaint
from tests.conftest import sign_in_verified
from tests.factories import ComplaintFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def _post(staff, url, data):
    response = sign_in_verified(Client(), staff).post(url, data)
    return response, [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("language", "said"), [("en", "Assigned to 王芳."), ("zh-hans", "已分派给 王芳。")]
)
def test_an_assignment_is_reported_in_the_language_of_whoever_assigned(language, said):
    complaint = ComplaintFactory()
    handler = StaffUserFactory(role=Role.COMPLAINTS_OFFICER, first_name="芳", last_name="王")
    supervisor = StaffUserFactory(role=Role.SUPERVISOR, language=language)
    url = reverse("complaints:assign", args=[complaint.pk])

    response, said_back = _post(supervisor, url, {"assignee": handler.pk, "team": complaint.team})

    assert response["Location"] == reverse("complaints:detail", args=[complaint.pk])
    assert said_back == [said.replace("王芳", handler.get_full_name())]
    complaint.refresh_from_db()
    assert complaint.assignee == handler


def test_a_form_that_does_not_validate_changes_nothing_and_says_why():
    complaint = ComplaintFactory()
    officer = StaffUserFactory(role=Role.COMPLAINTS_OFFICER, language="zh-hans")

    response, said_back = _post(
        officer, reverse("complaints:extend", args=[complaint.pk]), {"reason": ""}
    )

    assert response.status_code == 302 and said_back
    assert Complaint.objects.get().due_on == complaint.due_on


def test_a_refusal_from_the_service_reads_in_chinese_for_a_chinese_speaking_officer():
    complaint = ComplaintFactory()
    officer = StaffUserFactory(role=Role.COMPLAINTS_OFFICER, language="zh-hans")

    _response, said_back = _post(
        officer, reverse("complaints:remedy", args=[complaint.pk]), {"code": "retry", "target": 1}
    )

    assert said_back == ["该卡的记录（已）不支持此补救措施"]

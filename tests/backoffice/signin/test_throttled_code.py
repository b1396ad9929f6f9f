"""After a wrong code django-otp checks no code for a moment: the page says to wait, it
does not call the right code invalid."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuthenticatorDevice
from accounts.services.staff_security import second_factor_wait_seconds
from tests.backoffice.signin.test_security import (
    current_code,
    enrolled_staff,
    sign_in_with_password,
    wrong_code,
)

pytestmark = pytest.mark.django_db


def test_a_right_code_right_after_a_wrong_one_is_told_to_wait_a_few_seconds(client):
    user, device = enrolled_staff()
    sign_in_with_password(client, user)
    client.post(reverse("signin:verify"), {"otp_token": wrong_code(device)})
    assert second_factor_wait_seconds(staff=user) >= 1

    throttled = client.post(reverse("signin:verify"), {"otp_token": current_code(device)})

    page = throttled.content.decode()
    assert throttled.status_code == 200
    assert "wait a few seconds" in page
    assert "That code is not valid" not in page

    # Once the pause is over, the same right code signs in.
    AuthenticatorDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=30)
    )
    assert second_factor_wait_seconds(staff=user) == 0
    signed_in = client.post(reverse("signin:verify"), {"otp_token": current_code(device)})
    assert signed_in.status_code == 302


def test_a_wrong_code_when_nothing_throttles_is_still_called_not_valid(client):
    user, device = enrolled_staff()
    sign_in_with_password(client, user)

    response = client.post(reverse("signin:verify"), {"otp_token": wrong_code(device)})

    assert "That code is not valid" in response.content.decode()
    assert "wait a few seconds" not in response.content.decode()

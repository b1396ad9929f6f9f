"""The admin site: the same two-factor sign-in and role checks as the staff pages.

django-otp's OTPAdminSite admits only sessions verified by a second factor;
its own combined login form is replaced by the staff sign-in, so there is one
login (with django-axes and the lockout) for the whole back office.
"""

from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class StaffAdminSite(OTPAdminSite):
    site_header = "Car-loan cards · Admin"
    site_title = "Back office admin"
    index_title = "Administration"

    def __init__(self, name: str = "admin"):
        # OTPAdminSite defaults to "otpadmin"; keep the usual "admin:" URL names.
        super().__init__(name=name)

    def login(self, request, extra_context=None):
        # The login page checks ``next`` against the allowed hosts.
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index", current_app=self.name)
        )

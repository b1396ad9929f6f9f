"""The admin site: the same two-factor sign-in and role checks as the staff pages.

django-otp's OTPAdminSite admits only sessions verified by a second factor;
its own combined login form is replaced by the staff sign-in, so there is one
login (with django-axes and the lockout) for the whole back office.
"""

from functools import wraps

from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.views import PasswordChangeView, redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite

from accounts.search_terms import holds_full_identifier, url_search_term


class OwnPasswordChangeForm(AdminPasswordChangeForm):
    """A person changing their own password: through the service that ends their other
    sessions and audits the change (the view then keeps the current session)."""

    def save(self, commit=True):
        from accounts.services import change_staff_password

        change_staff_password(
            staff=self.user, actor=self.user, new_password=self.cleaned_data["new_password1"]
        )
        return self.user


class StaffAdminSite(OTPAdminSite):
    site_header = "Car-loan cards · Admin"
    site_title = "Back office admin"
    index_title = "Administration"

    def __init__(self, name: str = "admin"):
        # OTPAdminSite defaults to "otpadmin"; keep the usual "admin:" URL names.
        super().__init__(name=name)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def without_identifiers_in_the_url(request, *args, **kwargs):
            # A full card number, national id or phone in ?q= (an old bookmark, a typed
            # URL) would be echoed in every filter and sort link: move it out first.
            query = request.GET.get("q", "")
            if request.method == "GET" and holds_full_identifier(query):
                params = request.GET.copy()
                params["q"] = url_search_term(request.session, query)
                return redirect(f"{request.path}?{params.urlencode()}")
            return inner(request, *args, **kwargs)

        return without_identifiers_in_the_url

    def password_change(self, request, extra_context=None):
        request.current_app = self.name
        return PasswordChangeView.as_view(
            form_class=OwnPasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)

    def login(self, request, extra_context=None):
        # The login page checks ``next`` against the allowed hosts.
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index", current_app=self.name)
        )

"""Forms of the sign-in and staff security pages."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class SecondFactorForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app, or a backup code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class StaffActionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, min_length=10, widget=forms.Textarea(attrs={"rows": 3})
    )


class UnlockForm(StaffActionForm):
    username = forms.CharField(max_length=150, widget=forms.HiddenInput)


class StaffLoginForm(AuthenticationForm):
    """Django's login form, with the username's length enforced.

    AuthenticationForm sets ``max_length`` after the field is built, so no
    validator checks it: a 5,000-character name reached authentication and
    django-axes' failure record (a 255-character column), and the page failed.
    """

    def clean_username(self):
        username = self.cleaned_data["username"]
        limit = self.fields["username"].max_length
        if len(username) > limit:
            raise forms.ValidationError(f"A username has at most {limit} characters.")
        return username

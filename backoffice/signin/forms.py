"""Forms of the sign-in and staff security pages."""

from django import forms
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

"""Forms of the sign-in and staff security pages."""

from django import forms


class SecondFactorForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app, or a backup code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class StaffActionForm(forms.Form):
    reason = forms.CharField(
        max_length=500, min_length=10, widget=forms.Textarea(attrs={"rows": 3})
    )


class UnlockForm(StaffActionForm):
    username = forms.CharField(max_length=150, widget=forms.HiddenInput)

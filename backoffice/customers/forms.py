"""Forms of the customer pages. They parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _


class _SixDigitInput(forms.PasswordInput):
    def __init__(self):
        super().__init__(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "new-password",
                "maxlength": "6",
                "pattern": "[0-9]{6}",
            },
            render_value=False,
        )


class CustomerNewPasswordForm(forms.Form):
    """The customer's own page: the new password, twice."""

    password = forms.CharField(
        label=_("New 6-digit password"), widget=_SixDigitInput(), strip=False
    )
    confirmation = forms.CharField(label=_("Type it again"), widget=_SixDigitInput(), strip=False)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("password")
            and cleaned.get("confirmation")
            and cleaned["password"] != cleaned["confirmation"]
        ):
            raise forms.ValidationError(_("The two passwords do not match."))
        return cleaned


class RevealPhoneForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need the full number?"),
        max_length=500,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

"""Forms of the card password pages. They parse input; the services decide."""

from django import forms

from accounts.models import CardCredential, PasswordResetRequest
from accounts.services import start_password_reset


class StartPasswordResetForm(forms.Form):
    """What an agent records before the customer gets a reset link. No password field:
    staff never see or choose one."""

    kind = forms.ChoiceField(
        label="Password", choices=CardCredential.Kind.choices, initial="transaction"
    )
    verification_method = forms.ChoiceField(
        label="Identity verified by", choices=PasswordResetRequest.VerificationMethod.choices
    )
    verification_reference = forms.CharField(
        label="Verification reference",
        max_length=80,
        help_text="Branch check number, SMS code reference or video call id.",
    )
    delivery_channel = forms.ChoiceField(
        label="Send the link by", choices=PasswordResetRequest.DeliveryChannel.choices
    )
    supervisor_approval = forms.BooleanField(
        label="I approve this reset as supervisor (locked or closed card)", required=False
    )

    def start_reset(self, *, card, actor) -> PasswordResetRequest:
        """Start the reset the valid form describes (the UI page and the admin action)."""
        data = self.cleaned_data
        return start_password_reset(
            card=card,
            kind=data["kind"],
            verification_method=data["verification_method"],
            verification_reference=data["verification_reference"],
            delivery_channel=data["delivery_channel"],
            actor=actor,
            approved_by=actor if data["supervisor_approval"] else None,
        )


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

    password = forms.CharField(label="New 6-digit password", widget=_SixDigitInput(), strip=False)
    confirmation = forms.CharField(label="Type it again", widget=_SixDigitInput(), strip=False)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("password")
            and cleaned.get("confirmation")
            and cleaned["password"] != cleaned["confirmation"]
        ):
            raise forms.ValidationError("The two passwords do not match.")
        return cleaned

"""The card password reset form, shared by the card page and the admin action.

It parses input; the service decides.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import CardCredential, PasswordResetRequest
from accounts.services import start_password_reset


class StartPasswordResetForm(forms.Form):
    """What an agent records before the customer gets a reset link. No password field:
    staff never see or choose one."""

    kind = forms.ChoiceField(
        label=_("Password"), choices=CardCredential.Kind.choices, initial="transaction"
    )
    verification_method = forms.ChoiceField(
        label=_("Identity verified by"), choices=PasswordResetRequest.VerificationMethod.choices
    )
    verification_reference = forms.CharField(
        label=_("Verification reference"),
        max_length=80,
        help_text=_("Branch check number, SMS code reference or video call id."),
    )
    delivery_channel = forms.ChoiceField(
        label=_("Send the link by"), choices=PasswordResetRequest.DeliveryChannel.choices
    )
    supervisor_approval = forms.BooleanField(
        label=_("I approve this reset as supervisor (locked or closed card)"), required=False
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

"""The one form the debit engine's admin and the collection pages share."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ReasonForm(forms.Form):
    """Why staff pause, resume or waive: every such change carries a reason in its audit event."""

    reason = forms.CharField(
        label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )

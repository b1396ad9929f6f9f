"""Forms of the operations area. They parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from debits.models import DebitRun


class ResolveAlertForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": _("What was done")}),
    )


class EmergencyActionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (kept in the audit trail)"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(label=_("I understand what this does to the whole book"))

    def __init__(self, *args, needs_run: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_run:
            self.fields["run"] = forms.ModelChoiceField(
                label=_("Run to re-run"),
                queryset=DebitRun.objects.filter(state=DebitRun.State.RUNNING).order_by(
                    "-started_at"
                ),
                empty_label=None,
            )
            self.order_fields(["run", "reason", "confirm"])

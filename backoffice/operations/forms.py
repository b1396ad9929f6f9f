"""Forms of the operations area. They parse input; the services decide."""

from django import forms


class ResolveAlertForm(forms.Form):
    note = forms.CharField(
        label="What was done", max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


class EmergencyActionForm(forms.Form):
    reason = forms.CharField(
        label="Reason (kept in the audit trail)",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(label="I understand what this does to the whole book")

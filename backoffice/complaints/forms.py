"""Forms of the complaints area: parsing only; the services decide."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone

from backoffice.complaints.deadlines import SHANGHAI
from backoffice.complaints.models import Compensation, Complaint, RootCause, Team


class LogComplaintForm(forms.Form):
    card = forms.ModelChoiceField(queryset=None, required=False, empty_label="No card")
    category = forms.ChoiceField(choices=Complaint.Category.choices)
    channel = forms.ChoiceField(choices=Complaint.Channel.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    received_at = forms.DateTimeField(
        required=False,
        label="Received (Beijing time)",
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = customer.cards.order_by("pk")

    def clean_received_at(self) -> dt.datetime:
        value = self.cleaned_data.get("received_at")
        if value is None:
            return timezone.now()
        # Staff type the time the customer called, on the bank's clock (Beijing).
        return value.replace(tzinfo=SHANGHAI) if timezone.is_naive(value) else value


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None)
    team = forms.ChoiceField(choices=Team.choices)

    def __init__(self, *args, handlers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = handlers


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(choices=Complaint.Outcome.choices)
    root_cause = forms.ChoiceField(
        choices=[("", "As diagnosed"), *RootCause.choices], required=False
    )
    decision = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)


class CompensationForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[c for c in Compensation.Kind.choices if c[0] != Compensation.Kind.REPAIR_DELAY]
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class RemedyForm(forms.Form):
    code = forms.ChoiceField(
        choices=[
            (c, c) for c in ("resync", "retry", "waive_fee", "refund_interest", "refund_duplicate")
        ]
    )
    target = forms.IntegerField(min_value=1)

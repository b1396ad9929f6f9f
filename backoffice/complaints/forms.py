"""Forms of the complaints area: parsing only; the services decide."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backoffice.complaints.deadlines import SHANGHAI
from backoffice.complaints.models import Compensation, Complaint, RootCause, Team


class LogComplaintForm(forms.Form):
    card = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=_("No card"), label=_("Card")
    )
    category = forms.ChoiceField(choices=Complaint.Category.choices, label=_("Category"))
    channel = forms.ChoiceField(choices=Complaint.Channel.choices, label=_("Channel"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label=_("Description")
    )
    received_at = forms.DateTimeField(
        required=False,
        label=_("Received (Beijing time)"),
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = customer.cards.order_by("pk")
        self.fields["card"].label_from_instance = lambda card: f"•••• {card.last_four}"

    def clean_received_at(self) -> dt.datetime:
        value = self.cleaned_data.get("received_at")
        if value is None:
            return timezone.now()
        # Staff type the time the customer called, on the bank's clock (Beijing).
        return value.replace(tzinfo=SHANGHAI) if timezone.is_naive(value) else value


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, label=_("Handler"))
    team = forms.ChoiceField(choices=Team.choices, label=_("Team"))

    def __init__(self, *args, handlers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = handlers


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, label=_("Reason")
    )


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(choices=Complaint.Outcome.choices, label=_("Outcome"))
    root_cause = forms.ChoiceField(
        choices=[("", _("As diagnosed")), *RootCause.choices],
        required=False,
        label=_("Root cause"),
    )
    decision = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label=_("Decision")
    )


class CompensationForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[c for c in Compensation.Kind.choices if c[0] != Compensation.Kind.REPAIR_DELAY],
        label=_("Kind"),
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), label=_("Amount (¥)")
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, label=_("Reason")
    )


class RemedyForm(forms.Form):
    code = forms.ChoiceField(
        choices=[
            (c, c) for c in ("resync", "retry", "waive_fee", "refund_interest", "refund_duplicate")
        ]
    )
    target = forms.IntegerField(min_value=1)

"""Staff forms of the debit engine: parse and validate, the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Card
from debits.models import CollectionPause, Mandate


class ManualRunForm(forms.Form):
    run_date = forms.DateField(
        label=_("Collect what is due on or before"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    dry_run = forms.BooleanField(
        required=False,
        label=_("Dry run (select and record skips, collect nothing)"),
    )


class PauseForm(forms.Form):
    scope = forms.ChoiceField(label=_("Scope"), choices=CollectionPause.Scope.choices)
    card_id = forms.IntegerField(
        required=False, label=_("Card number (id)"), help_text=_("For a card pause")
    )
    mandate_reference = forms.CharField(
        label=_("Mandate reference"),
        required=False,
        max_length=32,
        help_text=_("For a mandate pause"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea)

    def clean(self):
        cleaned = super().clean()
        scope = cleaned.get("scope")
        cleaned["card"] = cleaned["mandate"] = None
        if scope == CollectionPause.Scope.CARD:
            card = Card.objects.filter(pk=cleaned.get("card_id") or 0).first()
            if card is None:
                self.add_error("card_id", _("No such card."))
            cleaned["card"] = card
        elif scope == CollectionPause.Scope.MANDATE:
            mandate = Mandate.objects.filter(
                reference=(cleaned.get("mandate_reference") or "").strip()
            ).first()
            if mandate is None:
                self.add_error("mandate_reference", _("No such mandate."))
            cleaned["mandate"] = mandate
        return cleaned

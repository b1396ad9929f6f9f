"""Staff forms of the debit engine: parse and validate, the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from backoffice.collection.pause_targets import InvalidPauseTarget, read_pause_target
from debits.services.runs import bank_today


class ManualRunForm(forms.Form):
    run_date = forms.DateField(
        label=_("Collect what is due on or before"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Today at the latest: a run never collects an instalment before its due date."),
    )
    dry_run = forms.BooleanField(
        required=False,
        label=_("Dry run (select and record skips, collect nothing)"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run_date"].widget.attrs["max"] = bank_today().isoformat()


class PauseSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Customer name or card last four"),
        max_length=100,
        required=False,
    )


CHOOSE_A_TARGET = _("Choose what to pause on the card's page or with the pause search.")

# What a person types to pause the whole book: a second, deliberate confirmation.
WHOLE_BOOK_PHRASE = _("PAUSE WHOLE BOOK")


class PauseForm(forms.Form):
    """The confirmation of a pause: its target comes signed from the page it was chosen on.

    There is no scope to choose and no id to type: without a target chosen on a
    card's page or in the pause search, the form is not valid.
    """

    target = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={"required": CHOOSE_A_TARGET},
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm_phrase = forms.CharField(
        label=_("Type the confirmation phrase"), max_length=40, required=False
    )

    def clean_target(self):
        try:
            return read_pause_target(self.cleaned_data["target"])
        except InvalidPauseTarget:
            raise forms.ValidationError(CHOOSE_A_TARGET, code="invalid_target") from None

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("target")
        cleaned["whole_book_confirmed"] = False
        if target is not None and target.is_whole_book:
            typed = (cleaned.get("confirm_phrase") or "").strip()
            if typed != str(WHOLE_BOOK_PHRASE):
                self.add_error(
                    "confirm_phrase",
                    _("Type %(phrase)s exactly to pause collection for every customer.")
                    % {"phrase": WHOLE_BOOK_PHRASE},
                )
            else:
                cleaned["whole_book_confirmed"] = True
        return cleaned

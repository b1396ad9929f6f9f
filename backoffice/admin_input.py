"""Hostile input to any admin list or action ends in a message, never an error page.

The admin site applies ``ValidatedInputAdminMixin`` to every ModelAdmin it
registers, ours and third-party ones alike, so the rules hold in one place:

- an action's selection (``_selected_action``) must be row ids; Django would
  pass ``abc`` or ``²`` straight into ``pk__in`` and fail;
- the date drill-down (``created_at__year=99999999999999999999``, year 9999
  of a yearly step) overflows ``datetime``, which Django catches only in part;
- a filter value with a NUL byte cannot be sent to PostgreSQL at all;
- a refused change form re-shows its autocomplete fields by querying the
  posted value (``customer=²``), which Django does unchecked;
- an action whose selection names no row that exists would still run (and,
  for some third-party ones, write) on nothing.

A bad list request becomes Django's own "?e=1" page (IncorrectLookupParameters);
a bad selection, a message on the list.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteMixin
from django.db import models
from django.http import HttpResponseRedirect

from backoffice.ui.identifiers import all_ids_valid

_INTEGER_KEYS = (models.AutoField, models.BigAutoField, models.IntegerField)


def _could_be(field, values) -> bool:
    """True when every one of ``values`` could be a value of ``field`` (a key)."""
    if isinstance(field, models.OneToOneField | models.ForeignKey):
        field = field.target_field
    if isinstance(field, _INTEGER_KEYS):
        return all_ids_valid(str(value) for value in values)
    return all("\x00" not in str(value) and len(str(value)) <= 255 for value in values)


def selection_is_valid(model, values: list[str]) -> bool:
    """True when every selected value can be a primary key of ``model``."""
    return _could_be(model._meta.pk, values)


def _validated_autocomplete(widget_class):
    class ValidatedAutocomplete(widget_class):
        def optgroups(self, name, value, attr=None):
            remote = self.field.remote_field
            target = remote.model._meta.get_field(
                getattr(remote, "field_name", None) or remote.model._meta.pk.name
            )
            kept = [v for v in value if _could_be(target, [v])]
            return super().optgroups(name, kept, attr)

    ValidatedAutocomplete.__name__ = widget_class.__name__
    return ValidatedAutocomplete


def _validated(changelist_class):
    class ValidatedChangeList(changelist_class):
        def get_filters(self, request):
            for values in request.GET.lists():
                if any("\x00" in value for value in values[1]) or "\x00" in values[0]:
                    raise IncorrectLookupParameters("A NUL byte in a filter")
            try:
                return super().get_filters(request)
            except (OverflowError, ValueError) as exc:
                raise IncorrectLookupParameters(exc) from exc

    ValidatedChangeList.__name__ = f"Validated{changelist_class.__name__}"
    return ValidatedChangeList


class ValidatedInputAdminMixin:
    def get_changelist(self, request, **kwargs):
        return _validated(super().get_changelist(request, **kwargs))

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        inner = getattr(widget, "widget", widget)  # inside RelatedFieldWidgetWrapper
        if isinstance(inner, AutocompleteMixin):
            inner.__class__ = _validated_autocomplete(type(inner))
        return formfield

    def response_action(self, request, queryset):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not selection_is_valid(self.model, selected):
            return self._refuse(request, "The selection was not understood; choose the rows again.")
        across = request.POST.get("select_across") == "1"
        if selected and not across and not queryset.filter(pk__in=selected).exists():
            return self._refuse(request, "None of the selected rows exists any more.")
        return super().response_action(request, queryset)

    def _refuse(self, request, message: str):
        self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())


def with_validated_input(admin_class):
    """``admin_class`` with the checks above, once (a subclass keeps its name)."""
    if issubclass(admin_class, ValidatedInputAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (ValidatedInputAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )

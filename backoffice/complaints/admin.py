"""Admin for the complaint records: read-only except intake, which goes through the service."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from accounts.admin import CardSearchMixin, ViewOnlyAdmin, ViewOnlyInline
from backoffice.complaints.models import (
    Compensation,
    Complaint,
    ComplaintAssignment,
    DeadlineExtension,
    RepairPromise,
)
from backoffice.complaints.services import log_complaint


class ComplaintIntakeForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ("customer", "card", "category", "channel", "description", "received_at")

    def clean(self):
        data = super().clean()
        card, customer = data.get("card"), data.get("customer")
        if card is not None and customer is not None and card.customer_id != customer.pk:
            raise forms.ValidationError("That card belongs to another customer")
        received = data.get("received_at")
        if received is not None and received > timezone.now():
            raise forms.ValidationError("A complaint cannot be received in the future")
        return data


class AssignmentInline(ViewOnlyInline):
    model = ComplaintAssignment
    fields = ("assigned_at", "assignee", "team", "assigned_by")
    readonly_fields = fields


class ExtensionInline(ViewOnlyInline):
    model = DeadlineExtension
    fields = ("created_at", "stage", "reason", "extended_by", "approved_by", "new_due_on")
    readonly_fields = fields


class CompensationInline(ViewOnlyInline):
    model = Compensation
    fields = ("kind", "amount", "state", "reason", "requested_by", "approved_by")
    readonly_fields = fields


@admin.register(Complaint)
class ComplaintAdmin(CardSearchMixin, ViewOnlyAdmin):
    list_display = (
        "pk",
        "customer",
        "card",
        "category",
        "channel",
        "state",
        "team",
        "assignee",
        "received_at",
        "due_on",
        "root_cause",
    )
    list_filter = ("state", "category", "channel", "team", "root_cause", "deadline_stage")
    list_select_related = ("customer", "card", "assignee")
    date_hierarchy = "received_at"
    search_fields = ("customer__full_name", "description")
    autocomplete_fields = ("customer", "card")
    inlines = (AssignmentInline, ExtensionInline, CompensationInline)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("complaints.add_complaint")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ComplaintIntakeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ComplaintIntakeForm.Meta.fields
        return super().get_fields(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def save_model(self, request, obj, form, change):
        # Intake is the service's: deadlines, acknowledgement, audit, the repair clock.
        logged = log_complaint(
            customer=form.cleaned_data["customer"],
            card=form.cleaned_data.get("card"),
            category=form.cleaned_data["category"],
            channel=form.cleaned_data["channel"],
            description=form.cleaned_data["description"],
            received_at=form.cleaned_data.get("received_at"),
            actor=request.user,
        )
        obj.pk = logged.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """Nothing related is edited at intake."""


@admin.register(Compensation)
class CompensationAdmin(ViewOnlyAdmin):
    list_display = ("pk", "complaint", "kind", "amount", "state", "requested_by", "approved_by")
    list_filter = ("state", "kind")
    list_select_related = ("complaint", "requested_by", "approved_by")
    date_hierarchy = "created_at"


@admin.register(RepairPromise)
class RepairPromiseAdmin(ViewOnlyAdmin):
    list_display = ("complaint", "root_cause", "failed_at", "repair_due_at", "repaired_at", "state")
    list_filter = ("state", "root_cause")
    list_select_related = ("complaint",)


@admin.register(DeadlineExtension)
class DeadlineExtensionAdmin(ViewOnlyAdmin):
    list_display = ("complaint", "stage", "new_due_on", "extended_by", "approved_by", "created_at")
    list_select_related = ("complaint", "extended_by", "approved_by")


@admin.register(ComplaintAssignment)
class ComplaintAssignmentAdmin(ViewOnlyAdmin):
    list_display = ("complaint", "assignee", "team", "assigned_by", "assigned_at")
    list_select_related = ("complaint", "assignee", "assigned_by")

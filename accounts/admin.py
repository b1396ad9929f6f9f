"""Django admin for staff, customers, cards, credentials, the audit trail and the outbox.

Lists show personal data masked only: phones through ``Customer.phone_masked``,
cards as their last four. Fingerprints and password hashes are never shown.
Search accepts a full card number or national id and matches it through its
keyed fingerprint (``accounts.selectors``), so the value is never stored.
Every change made here writes an audit event.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q

from accounts.admin_actions import CardPasswordResetAdminMixin
from accounts.admin_staff import NewStaffForm, StaffSecurityAdminMixin
from accounts.audit import AuditAction, record_audit_event
from accounts.models import (
    AuditEvent,
    Card,
    CardAuthenticator,
    CardCredential,
    Customer,
    CustomerNotice,
    OutboxEvent,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)
from accounts.pii import (
    card_number_fingerprint,
    looks_like_card_number,
    mask_national_id,
    national_id_fingerprint,
    normalise_card_number,
)
from accounts.search_terms import search_for_url_term
from accounts.selectors import search_cards, search_customers

SEARCH_HELP = "Name, phone, card last four, full card number or national id."


class AuditedAdminMixin:
    """Records who changed what through the admin; field names only, never values."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_audit_event(
            actor=request.user,
            action=(AuditAction.ADMIN_CHANGE if change else AuditAction.ADMIN_ADD),
            target=obj,
            summary={"fields": sorted(form.changed_data)},
        )

    def delete_model(self, request, obj):
        object_type, object_id = obj._meta.label_lower, obj.pk
        super().delete_model(request, obj)
        record_audit_event(
            actor=request.user,
            action=AuditAction.ADMIN_DELETE,
            object_type=object_type,
            object_id=object_id,
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ViewOnlyAdmin(admin.ModelAdmin):
    """A record that changes only through a business action (a service), never by hand."""

    # These tables grow to millions of rows: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Staff --------------------------------------------------------------------


@admin.register(StaffUser)
class StaffUserAdmin(StaffSecurityAdminMixin, AuditedAdminMixin, UserAdmin):
    list_display = (
        "username",
        "first_name",
        "last_name",
        "employee_number",
        "role_names",
        "is_active",
        "is_superuser",
        "last_login",
    )
    list_filter = ("is_active", "is_superuser", "groups")
    search_fields = ("username", "first_name", "last_name", "email", "employee_number")
    readonly_fields = ("last_login", "date_joined", "session_generation")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Bank", {"fields": ("employee_number", "language", "session_generation")}),
    )
    # No password and no roles here: a new account starts with neither; its owner
    # chooses the password from an approved reset link, roles are granted under
    # maker-checker (accounts.services.staff_grants).
    add_form = NewStaffForm
    add_fieldsets = (
        (None, {"fields": ("username",)}),
        ("Bank", {"fields": ("first_name", "last_name", "email", "employee_number")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def role_names(self, obj: StaffUser) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all()))


# --- Customers and cards --------------------------------------------------------


class CustomerAdminForm(forms.ModelForm):
    """Takes a national id once and keeps only its masked form and fingerprint."""

    national_id = forms.CharField(
        required=False,
        max_length=24,
        help_text="Enter to set or replace; only a masked form and a fingerprint are kept.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = Customer
        fields = ("full_name", "phone", "email", "birth_date", "status")

    def clean_national_id(self) -> str:
        value = self.cleaned_data["national_id"].strip().upper()
        if not value:
            if self.instance.pk is None:
                raise forms.ValidationError("A new customer needs a national id.")
            return value
        if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
            raise forms.ValidationError("A national id has 17 digits and a check character.")
        clash = Customer.objects.filter(national_id_fingerprint=national_id_fingerprint(value))
        if clash.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another customer has this national id.")
        return value

    def save(self, commit=True):
        national_id = self.cleaned_data.get("national_id")
        if national_id:
            self.instance.national_id_masked = mask_national_id(national_id)
            self.instance.national_id_fingerprint = national_id_fingerprint(national_id)
        return super().save(commit=commit)


class CardInline(admin.TabularInline):
    model = Card
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("masked_number", "status", "credit_limit", "available_limit", "credential_version")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ("full_name", "national_id_masked", "phone_masked", "status", "created_at")
    list_filter = ("status",)
    # A stable order for the list and the card form's customer autocomplete pages.
    ordering = ("full_name", "pk")
    date_hierarchy = "created_at"
    search_fields = ("full_name",)
    search_help_text = SEARCH_HELP
    show_full_result_count = False
    readonly_fields = ("national_id_masked", "phone_masked", "created_at")
    inlines = (CardInline,)

    def get_fields(self, request, obj=None):
        fields = ["full_name", "national_id_masked", "national_id"]
        # Only those allowed to reveal a phone see (and can edit) it in full.
        if request.user.has_perm("accounts.reveal_customer_phone"):
            fields.append("phone")
        else:
            fields.append("phone_masked")
        return [*fields, "email", "birth_date", "status", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [
            f for f in self.get_fields(request, obj) if f not in self.get_readonly_fields(request)
        ]
        return super().get_form(request, obj, change, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        search_term = search_for_url_term(request.session, search_term)
        matches = search_customers(search_term).order_by().values("pk")
        return queryset.filter(pk__in=matches), False

    @admin.display(description="Phone", ordering="phone")
    def phone_masked(self, obj: Customer) -> str:
        return obj.phone_masked


class CardAdminForm(forms.ModelForm):
    """Takes a card number once and keeps only its last four and fingerprint."""

    card_number = forms.CharField(
        required=False,
        max_length=23,
        help_text="New cards only; only the last four and a fingerprint are kept.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = Card
        fields = ("customer", "product_name", "status", "credit_limit", "available_limit")

    def clean_card_number(self) -> str:
        value = normalise_card_number(self.cleaned_data["card_number"])
        if self.instance.pk is not None:
            return ""
        if not looks_like_card_number(value) or len(value) > 19:
            raise forms.ValidationError("Enter the full card number (13 to 19 digits).")
        if Card.objects.filter(number_fingerprint=card_number_fingerprint(value)).exists():
            raise forms.ValidationError("This card is already on file.")
        return value

    def save(self, commit=True):
        number = self.cleaned_data.get("card_number")
        if number:
            self.instance.last_four = number[-4:]
            self.instance.number_fingerprint = card_number_fingerprint(number)
        return super().save(commit=commit)


class CardCredentialInline(ViewOnlyInline):
    model = CardCredential
    fields = ("kind", "failed_attempts", "locked_at", "changed_at")
    readonly_fields = fields


@admin.register(Card)
class CardAdmin(CardPasswordResetAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = CardAdminForm
    list_display = (
        "masked_number",
        "customer",
        "product_name",
        "status",
        "credit_limit",
        "available_limit",
        "credential_version",
        "credential_changed_at",
    )
    list_filter = ("status", "product_name")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    search_fields = ("last_four",)
    search_help_text = SEARCH_HELP
    show_full_result_count = False
    autocomplete_fields = ("customer",)
    readonly_fields = ("last_four", "credential_version", "credential_changed_at", "created_at")
    inlines = (CardCredentialInline,)

    def get_fields(self, request, obj=None):
        number = ["card_number"] if obj is None else ["last_four"]
        return [
            "customer",
            *number,
            "product_name",
            "status",
            "credit_limit",
            "available_limit",
            "credential_version",
            "credential_changed_at",
            "created_at",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [
            f for f in self.get_fields(request, obj) if f not in self.get_readonly_fields(request)
        ]
        return super().get_form(request, obj, change, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        search_term = search_for_url_term(request.session, search_term)
        return queryset.filter(pk__in=search_cards(search_term).values("pk")), False

    @admin.display(description="Card", ordering="last_four")
    def masked_number(self, obj: Card) -> str:
        return obj.masked_number


class CardSearchMixin:
    """Search a card's records by reference or by anything that finds the card."""

    card_lookup = "card"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            cards = search_cards(search_for_url_term(request.session, search_term)).values("pk")
            results = results | queryset.filter(**{f"{self.card_lookup}__in": cards})
        return results, may_have_duplicates


@admin.register(CardAuthenticator)
class CardAuthenticatorAdmin(CardSearchMixin, ViewOnlyAdmin):
    # The reference fingerprint identifies a device; nobody needs to read it.
    fields = ("card", "kind", "state", "enrolled_at", "changed_at", "removed_at")
    list_display = ("card", "kind", "state", "enrolled_at", "changed_at")
    list_filter = ("kind", "state")
    list_select_related = ("card",)
    search_fields = ("card__last_four",)
    search_help_text = SEARCH_HELP


@admin.register(CardCredential)
class CardCredentialAdmin(CardSearchMixin, ViewOnlyAdmin):
    # password_hash is deliberately absent from every list and form.
    fields = ("card", "kind", "failed_attempts", "locked_at", "changed_at")
    list_display = ("card", "kind", "failed_attempts", "is_locked", "changed_at")
    list_filter = ("kind", ("locked_at", admin.EmptyFieldListFilter))
    list_select_related = ("card",)
    search_fields = ("card__last_four",)
    search_help_text = SEARCH_HELP

    @admin.display(boolean=True, description="Locked")
    def is_locked(self, obj: CardCredential) -> bool:
        return obj.is_locked


@admin.register(PasswordChange)
class PasswordChangeAdmin(CardSearchMixin, ViewOnlyAdmin):
    list_display = ("changed_at", "card", "kind", "channel", "actor", "credential_version")
    list_filter = ("kind", "channel")
    list_select_related = ("card", "actor")
    date_hierarchy = "changed_at"
    search_fields = ("card__last_four", "actor__username")
    search_help_text = SEARCH_HELP


@admin.register(PasswordResetRequest)
class PasswordResetRequestAdmin(CardSearchMixin, ViewOnlyAdmin):
    # token_fingerprint is deliberately absent: it is a credential while the link lives.
    fields = (
        "card",
        "kind",
        "verification_method",
        "verification_reference",
        "delivery_channel",
        "requested_by",
        "approved_by",
        "created_at",
        "expires_at",
        "used_at",
        "cancelled_at",
    )
    list_display = (
        "created_at",
        "card",
        "kind",
        "verification_method",
        "requested_by",
        "approved_by",
        "expires_at",
        "used_at",
        "cancelled_at",
    )
    list_filter = (
        "kind",
        "verification_method",
        "delivery_channel",
        ("used_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("card", "requested_by", "approved_by")
    date_hierarchy = "created_at"
    search_fields = ("card__last_four", "requested_by__username", "verification_reference")
    search_help_text = SEARCH_HELP


# --- Audit trail and outbox -----------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    """Append-only: nobody, superusers included, may add, change or delete here."""

    list_display = (
        "occurred_at",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "request_id",
    )
    list_filter = ("action", "object_type", "actor_label")
    list_select_related = ("actor",)
    date_hierarchy = "occurred_at"
    search_fields = ("action", "object_type", "object_id", "request_id", "actor__username")
    fields = AuditEvent.SHOWN_FIELDS
    readonly_fields = fields

    def get_actions(self, request):
        # No bulk delete, even for superusers.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ProcessedFilter(admin.SimpleListFilter):
    title = "processed"
    parameter_name = "processed"

    def lookups(self, request, model_admin):
        return (("yes", "Processed"), ("no", "Not processed"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(processed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(Q(processed_at__isnull=True))
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ViewOnlyAdmin):
    list_display = (
        "id",
        "event_type",
        "created_at",
        "last_dispatched_at",
        "processed_at",
        "attempts",
        "last_error",
    )
    list_filter = ("event_type", ProcessedFilter)
    date_hierarchy = "created_at"
    search_fields = ("=id", "last_error")


@admin.register(CustomerNotice)
class CustomerNoticeAdmin(CardSearchMixin, ViewOnlyAdmin):
    list_display = ("created_at", "customer", "card", "topic", "channel", "language", "sent_at")
    list_filter = ("topic", "channel", ("sent_at", admin.EmptyFieldListFilter))
    list_select_related = ("customer", "card")
    date_hierarchy = "created_at"

"""The simulated network's books in the admin (read-only: only the simulator writes them)."""

from django.contrib import admin

from accounts.admin import ViewOnlyAdmin
from simulator.models import (
    SimulatedAgreement,
    SimulatedCardCredential,
    SimulatedCollection,
    SimulatedFault,
    SimulatedPresentation,
)


@admin.register(SimulatedAgreement)
class SimulatedAgreementAdmin(ViewOnlyAdmin):
    list_display = (
        "mandate_reference",
        "card_reference",
        "credential_version",
        "revoked",
        "bound_at",
    )
    list_filter = ("revoked",)
    date_hierarchy = "bound_at"
    search_fields = ("mandate_reference", "card_reference", "token")


@admin.register(SimulatedCardCredential)
class SimulatedCardCredentialAdmin(ViewOnlyAdmin):
    list_display = ("card_reference", "credential_version", "learnt_at")
    date_hierarchy = "learnt_at"
    search_fields = ("card_reference",)


@admin.register(SimulatedCollection)
class SimulatedCollectionAdmin(ViewOnlyAdmin):
    list_display = (
        "created_at",
        "idempotency_key",
        "mandate_reference",
        "amount_minor",
        "outcome",
        "gateway_reference",
    )
    list_filter = ("outcome",)
    date_hierarchy = "created_at"
    search_fields = ("idempotency_key", "mandate_reference", "gateway_reference")


@admin.register(SimulatedFault)
class SimulatedFaultAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "mandate_reference", "outcome", "remaining")
    list_filter = ("outcome",)
    date_hierarchy = "created_at"
    search_fields = ("mandate_reference",)


@admin.register(SimulatedPresentation)
class SimulatedPresentationAdmin(ViewOnlyAdmin):
    list_display = ("request_key", "count")
    search_fields = ("request_key",)

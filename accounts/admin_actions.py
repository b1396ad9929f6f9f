"""Admin action on cards: start a password reset, with the same identity-verification
step as the card page, calling the same service."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from accounts.forms import StartPasswordResetForm
from accounts.models import CardCredential
from accounts.services import CardPasswordError, reset_needs_supervisor
from accounts.services.link_delivery import link_not_sent_message


@admin.action(
    description="Start a password reset (sends the customer a single-use link)",
    permissions=["start_password_reset"],
)
def start_password_reset_action(modeladmin, request, queryset):
    if queryset.count() != 1:
        modeladmin.message_user(
            request,
            "Select exactly one card: each reset needs its own identity verification.",
            messages.ERROR,
        )
        return None
    card = queryset.select_related("customer").get()
    submitted = "apply" in request.POST
    form = StartPasswordResetForm(request.POST if submitted else None)
    if submitted and form.is_valid():
        try:
            reset = form.start_reset(card=card, actor=request.user)
        except CardPasswordError as exc:
            form.add_error(None, str(exc))
        else:
            if reset.link_delivery.failed:
                modeladmin.message_user(
                    request,
                    link_not_sent_message(reset.get_delivery_channel_display()),
                    messages.ERROR,
                )
                return None
            modeladmin.message_user(
                request, f"A single-use reset link was sent to the customer of {card}."
            )
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Start a password reset for {card}",
        "opts": modeladmin.model._meta,
        "card": card,
        "form": form,
        "action_name": "start_password_reset_action",
        "needs_supervisor": reset_needs_supervisor(card=card, kind=CardCredential.Kind.TRANSACTION),
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/card/start_password_reset.html", context)


class CardPasswordResetAdminMixin:
    actions = (start_password_reset_action,)

    def has_start_password_reset_permission(self, request) -> bool:
        return request.user.has_perm("accounts.start_password_reset")

from django.urls import path

from backoffice import staff_auth, staff_changes

app_name = "staff_auth"

urlpatterns = [
    path("login/verify/", staff_auth.verify_second_factor, name="verify"),
    path("login/enrol/", staff_auth.enrol_second_factor, name="enrol"),
    path("staff/locked/", staff_auth.locked_staff, name="locked_staff"),
    path("staff/second-factors/", staff_auth.staff_list, name="staff_list"),
    path(
        "staff/<int:pk>/reset-second-factor/",
        staff_auth.reset_second_factor,
        name="reset_second_factor",
    ),
    path("customers/<int:pk>/reveal-phone/", staff_auth.reveal_phone, name="reveal_phone"),
    # Maker-checker for role grants, re-enabling and staff password resets.
    path("staff/changes/", staff_changes.staff_changes, name="staff_changes"),
    path("staff/<int:pk>/ask/", staff_changes.ask_for_staff_change, name="ask_for_staff_change"),
    path(
        "staff/changes/<int:pk>/decide/",
        staff_changes.decide_staff_change,
        name="decide_staff_change",
    ),
    # A staff member's own reset link (no sign-in); the token is redacted from every log.
    path(
        "staff/password-reset/<str:token>/",
        staff_changes.staff_password_reset_link,
        name="staff_password_reset_link",
    ),
    path(
        "staff/password-reset/",
        staff_changes.staff_password_reset_form,
        name="staff_password_reset_form",
    ),
]

from django.urls import path

from backoffice.signin import staff_changes, views

app_name = "signin"

urlpatterns = [
    path("login/verify/", views.verify_second_factor, name="verify"),
    path("login/enrol/", views.enrol_second_factor, name="enrol"),
    path("staff/locked/", views.locked_staff, name="locked_staff"),
    path("staff/second-factors/", views.staff_list, name="staff_list"),
    path(
        "staff/<int:pk>/reset-second-factor/",
        views.reset_second_factor,
        name="reset_second_factor",
    ),
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

from django.urls import path

from backoffice import staff_auth

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
]

from django.urls import path

from backoffice.signin import views

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
]

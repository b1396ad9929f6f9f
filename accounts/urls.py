from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("customers/", views.customer_search, name="customer_search"),
    path("admin-search/", views.admin_search, name="admin_search"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path(
        "cards/<int:card_id>/password-reset/",
        views.start_card_password_reset,
        name="start_card_password_reset",
    ),
    # Customer-facing, no staff sign-in: the link from the reset message, then the form.
    path("reset/<str:token>/", views.password_reset_link, name="password_reset_link"),
    path("reset/", views.password_reset_form, name="password_reset_form"),
]

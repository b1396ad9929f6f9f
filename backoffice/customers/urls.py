from django.urls import path

from backoffice.customers import views

app_name = "customers"

urlpatterns = [
    path("customers/", views.customer_search, name="customer_search"),
    path("admin-search/", views.admin_search, name="admin_search"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path(
        "cards/<int:card_id>/password-reset/",
        views.start_card_password_reset,
        name="start_card_password_reset",
    ),
    path("customers/<int:pk>/reveal-phone/", views.reveal_phone, name="reveal_phone"),
    path("debits/cards/<int:pk>/", views.card_detail, name="card_detail"),
    path("debits/mandates/<int:pk>/resync/", views.resync_mandate_now, name="resync_mandate_now"),
    # Customer-facing, no staff sign-in: the link from the reset message, then the form.
    path("reset/<str:token>/", views.password_reset_link, name="password_reset_link"),
    path("reset/", views.password_reset_form, name="password_reset_form"),
]

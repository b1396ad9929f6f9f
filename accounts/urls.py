from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("customers/", views.customer_search, name="customer_search"),
]

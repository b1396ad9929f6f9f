from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("audit/", views.audit_trail, name="audit_trail"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("debits/", include("debits.urls")),
    path("admin/", admin.site.urls),
]

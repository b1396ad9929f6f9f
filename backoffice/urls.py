from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice import audit_trail, staff_auth, views
from backoffice.operations import health, metrics

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("audit/", audit_trail.audit_trail, name="audit_trail"),
    path("audit/export.csv", audit_trail.audit_trail_export, name="audit_trail_export"),
    path("login/", staff_auth.StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("backoffice.staff_auth_urls")),
    path("", include("accounts.urls")),
    path("debits/", include("debits.urls")),
    path("operations/", include("backoffice.operations.urls")),
    # For load balancers and Prometheus: no sign-in, allow-listed callers only.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

"""The project's URL map: one include per workspace area, then the admin.

The paths are the product's (bookmarks, links in messages); the namespaces are
the areas' names.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice.language import switch_language
from backoffice.operations import health, metrics
from backoffice.signin.views import StaffLoginView

urlpatterns = [
    path("", include("backoffice.dashboard.urls")),
    path("audit/", include("backoffice.audit.urls")),
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", switch_language, name="set_language"),
    path("", include("backoffice.signin.urls")),
    path("", include("backoffice.customers.urls")),
    path("debits/", include("backoffice.collection.urls")),
    path("complaints/", include("backoffice.complaints.urls")),
    path("operations/", include("backoffice.operations.urls")),
    # For load balancers and Prometheus: no sign-in, allow-listed callers only.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the two-factor admin site as ``admin.site``."""

    default_site = "backoffice.admin_site.StaffAdminSite"

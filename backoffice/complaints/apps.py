from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "backoffice.complaints"
    label = "complaints"
    verbose_name = "Complaints"

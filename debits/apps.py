from django.apps import AppConfig


class DebitsConfig(AppConfig):
    name = "debits"
    verbose_name = "Loans, mandates and debits"

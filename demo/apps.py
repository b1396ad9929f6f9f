from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo book, load seeding and demo staff logins: tools for trying and measuring
    the back office, outside the domain (``accounts`` and ``debits`` never import it)."""

    name = "demo"
    verbose_name = "Demo data"

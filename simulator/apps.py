from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """The simulated payment network, for development, tests and the demo only.

    The bank's code never imports it: the debit engine reaches it only through
    the ``PAYMENT_GATEWAY`` setting, like any other network.
    """

    name = "simulator"
    verbose_name = "Payment network simulator"

"""Payment gateway adapters. ``get_gateway()`` returns the one the settings name."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from debits.gateways.base import (
    AgreementBinding,
    CollectionResult,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentGateway,
)

__all__ = [
    "AgreementBinding",
    "CollectionResult",
    "GatewayError",
    "GatewayTimeout",
    "GatewayUnavailable",
    "PaymentGateway",
    "get_gateway",
]


# Dotted paths a setting may still name, and where the adapter lives now. The
# domain names the simulator only here, as a string: it never imports it.
MOVED_GATEWAYS = {
    "debits.gateways.simulator.SimulatorGateway": "simulator.gateway.SimulatorGateway",
}


@cache
def _gateway_for(path: str) -> PaymentGateway:
    return import_string(MOVED_GATEWAYS.get(path, path))()


def get_gateway() -> PaymentGateway:
    return _gateway_for(settings.PAYMENT_GATEWAY)

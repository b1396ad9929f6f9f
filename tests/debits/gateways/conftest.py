"""The payment API served on 127.0.0.1 and the HTTP gateway on it, for every module here."""

from tests.debits.gateways.test_http_gateway import gateway, payment_api  # noqa: F401 # fixtures

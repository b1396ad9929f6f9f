"""Environment for running the project in production mode (``DEBUG=false``) in a subprocess."""

import secrets

from cryptography.fernet import Fernet


def production_environment() -> dict[str, str]:
    """Every variable production requires, each set to a fresh value."""
    return {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "backoffice.example",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CARD_PIN_PEPPER": secrets.token_urlsafe(32),
        "PII_FINGERPRINT_KEY": secrets.token_urlsafe(32),
        "OTP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "NOTIFICATION_BACKEND": "accounts.notifications.HttpNotificationBackend",
        "NOTIFICATION_GATEWAY_URL": "https://sms-gateway.bank.example/v1/messages",
        "PUBLIC_BASE_URL": "https://backoffice.example",
    }

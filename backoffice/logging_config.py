"""The logging configuration: one JSON object per line, redacted, with the request id.

Its own module so that settings stay one page per subject; it imports nothing of
the product, because settings load it before Django is set up.
"""


def logging_config(level: str) -> dict:
    """dictConfig for every process (web, workers, beat, commands) at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "backoffice.log.RequestIdFilter"},
            "redact_reset_token": {"()": "backoffice.log.RedactResetTokenFilter"},
            # Card numbers, national ids, phones, passwords and tokens never reach a log line.
            "redact": {"()": "backoffice.log.RedactingFilter"},
        },
        "formatters": {"json": {"()": "backoffice.log.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id", "redact_reset_token", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # runserver's access log, through the redacting handler instead of its own.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }

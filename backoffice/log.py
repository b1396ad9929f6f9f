"""Structured logging: one JSON object per line, tagged with the request id."""

import json
import logging
import re
from datetime import UTC, datetime

from accounts.request_context import current_request_id

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and redacted) by RedactingFilter
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


# The paths whose next segment is a single-use reset token: the customers' links
# (/reset/<token>/) and a staff member's own (/staff/password-reset/<token>/).
RESET_LINK_PREFIX = r"(/(?:staff/password-)?reset/)"


def redact_reset_tokens(text: str) -> str:
    """``text`` with the token of every reset link replaced by ``[redacted]``."""
    return RedactResetTokenFilter._TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactResetTokenFilter(logging.Filter):
    """Blanks the token of a password-reset link (customer's or staff) in any log line.

    Django itself never logs it (the link answers with a redirect to a
    token-free page), but a server's access log line for that first request
    would: this filter sits on every handler, the development server's too.
    """

    _TOKEN_IN_PATH = re.compile(RESET_LINK_PREFIX + r"(?!\s|\"|$)[^/\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_reset_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# Digits that are part of a decimal number (a timing such as 0.126958123456789, an
# amount) are no identifier: not the fraction after "<digit>." nor the whole part
# before ".<digit>". A card number at the end of a sentence ("... 4111111111111111.")
# is still one.
_NOT_A_FRACTION = r"(?<!\d\.)"
_NO_FRACTION = r"(?!\.\d)"

# What must never reach a log line: card numbers (13-19 digits, maybe grouped),
# national ids (17 digits + check character), full mainland mobile numbers, and
# anything written as password=... / token=... (also in reset links: /reset/<token>/).
_REDACTIONS = [
    (
        re.compile(
            r"(?i)\b(password|passwd|pin|token|secret|otp_token|key)(\s*[=:]\s*)([^\s&,;\"']+)"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(?i)" + RESET_LINK_PREFIX + r"[A-Za-z0-9_\-:.]{8,}"), r"\1[redacted]"),
    (
        re.compile(
            rf"(?<![0-9A-Za-z]){_NOT_A_FRACTION}\d{{17}}[\dXx](?![0-9A-Za-z]){_NO_FRACTION}"
        ),
        "[national-id]",
    ),
    (
        re.compile(
            rf"(?<!\d){_NOT_A_FRACTION}(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{{4}}){{2}}"
            rf"(?!\d){_NO_FRACTION}"
        ),
        "[phone]",
    ),
    (
        re.compile(rf"(?<!\d){_NOT_A_FRACTION}(?:\d[ -]?){{12,18}}\d(?!\d){_NO_FRACTION}"),
        "[card-number]",
    ),
]
_SENSITIVE_KEYS = re.compile(
    r"(?i)password|passwd|token|secret|pepper|otp|national_id$|^phone$|card_number"
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value):
    if _SENSITIVE_KEYS.search(key):
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 11:
        return redact(str(value))
    return value


class RedactingFilter(logging.Filter):
    """Scrubs secrets and full identifiers from a record's message, arguments and extras.

    A last line of defence: code should not log them in the first place, but a
    library's debug line or an exception message can carry one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and not key.startswith("_"):
                record.__dict__[key] = _redact_value(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

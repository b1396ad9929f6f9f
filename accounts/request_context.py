"""The id of the request (or task) being served, for logs and audit events."""

import contextvars
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_source_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("source_ip", default=None)


def current_request_id() -> str:
    return _request_id.get()


def current_source_ip() -> str | None:
    return _source_ip.get()


def bind(*, request_id: str | None = None, source_ip: str | None = None) -> tuple:
    """Bind a request id (a new one when none is given) and source IP; returns reset tokens."""
    return (
        _request_id.set(request_id or uuid.uuid4().hex),
        _source_ip.set(source_ip),
    )


def unbind(tokens: tuple) -> None:
    request_token, ip_token = tokens
    _request_id.reset(request_token)
    _source_ip.reset(ip_token)

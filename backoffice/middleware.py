import re

from accounts import request_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9\-]{8,64}$")


class RequestIdMiddleware:
    """Tags each request with an id that logs and audit events carry.

    An incoming X-Request-ID (from the proxy) is kept only if it looks like an id,
    so a client cannot inject text into logs through it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else None
        tokens = request_context.bind(
            request_id=request_id, source_ip=request.META.get("REMOTE_ADDR")
        )
        request.request_id = request_context.current_request_id()
        try:
            response = self.get_response(request)
        finally:
            request_context.unbind(tokens)
        response["X-Request-ID"] = request.request_id
        return response

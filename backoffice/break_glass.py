"""Break-glass superusers in the web process: the grant's time limit, and an audit per request.

Goes after AuthenticationMiddleware. A superuser whose grant is over (or who
never had one) is demoted and signed out on their next request; while a grant
lives, each of their requests writes an audit event (method and path; paths
carry ids and fingerprints, never full identifiers).
"""

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

from accounts.services.break_glass import (
    close_break_glass,
    has_live_break_glass,
    record_break_glass_request,
)


class BreakGlassMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_superuser:
            if not has_live_break_glass(user):
                close_break_glass(staff=user)
                logout(request)
                return redirect_to_login(request.get_full_path())
            record_break_glass_request(staff=user, method=request.method, path=request.path)
        return self.get_response(request)

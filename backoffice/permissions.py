"""Access control for staff views: every view declares the permission it needs.

Hiding a link is not access control; these decorators are. A view without one
fails the access-matrix test.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied

from backoffice.signin.session import redirect_to_sign_in


def staff_permission_required(*perms: str):
    """Signed-in staff holding every permission named, else 403 (or login)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_sign_in(request)
            if not user.is_active or not user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_permissions = perms
        return wrapped

    return decorator


def staff_login_required(view):
    """Any signed-in staff member (pages every role may see, like the dashboard)."""
    return staff_permission_required()(view)

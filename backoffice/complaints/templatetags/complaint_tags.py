from django import template

register = template.Library()


@register.filter
def staff_name(user, missing: str = "—") -> str:
    """A staff member as pages name them: full name, else username; ``missing`` for nobody."""
    if user is None:
        return missing
    return user.get_full_name() or user.username

"""Template filters that keep full identifiers out of pages (the admin's search box)."""

from django import template

from accounts.pii import mask_search_text

register = template.Library()


@register.filter
def masked_search(text: str) -> str:
    return mask_search_text(text or "")


@register.filter
def search_box_value(text: str) -> str:
    """The search as typed, unless it is a full identifier (then the box stays empty)."""
    text = text or ""
    return text if mask_search_text(text) == text else ""

"""How the workspace shows amounts and codes (a builtin of every template).

- ``{{ amount|yuan }}``: ``¥11,566.67`` (Decimal-safe, never a float).
- ``{{ code|label:"failure_code" }}``: the label of a code in the active language.
"""

from django import template

from backoffice.ui.labels import code_label, format_yuan

register = template.Library()


@register.filter
def yuan(value) -> str:
    return format_yuan(value)


@register.filter
def label(code, kind: str) -> str:
    return code_label(code, kind)

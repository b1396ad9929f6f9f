"""Reading row ids and page numbers out of a request.

A query string or form field is text an attacker chooses. Python's ``int()``
and ``str.isdigit()`` disagree on some of it (``"²".isdigit()`` is true, but
``int("²")`` fails; ``int("١٢٣")`` reads Arabic-Indic digits), and a number
past the database's 64-bit ids overflows a query. So an id is ASCII digits
only, within the range of a ``BigAutoField``; anything else is "no id".
"""

import re
from collections.abc import Iterable

# The largest value of a PostgreSQL bigint, the type of every primary key here.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value) -> int | None:
    """``value`` as a row id (1 to MAX_ID), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def parse_ids(values: Iterable) -> list[int]:
    """The valid ids among ``values``, in order and without repeats."""
    ids: dict[int, None] = {}
    for value in values:
        number = parse_id(value)
        if number is not None:
            ids[number] = None
    return list(ids)


def all_ids_valid(values: Iterable) -> bool:
    """True when every one of ``values`` is a valid id (an empty selection is)."""
    return all(parse_id(value) is not None for value in values)


def page_number(value) -> int:
    """The page asked for, or 1 for anything that is not a page number."""
    return parse_id(value) or 1

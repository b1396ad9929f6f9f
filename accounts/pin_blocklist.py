"""The 6-digit card passwords refused because people choose them too often.

NIST SP 800-63B asks that a memorised secret be checked against values known
to be commonly used. For 6-digit PINs the measurement is Wang et al., ASIA CCS
2017 (see ``accounts/data/common_6_digit_pins.txt`` for the citation and how
the list was made): a few patterns account for most human-chosen PINs. This
module refuses

- the PINs named in the data file (the study's top PINs no pattern covers);
- repeats: one digit (111111), a 2- or 3-digit block (121212, 123123), a digit
  five times with one other (000001, 999998), doubled or tripled digits
  (112233, 111222);
- arithmetic runs with any step, wrapping round 0 (123456, 135791, 987654);
- mirrored PINs (123321);
- keypad shapes: two rows, columns or diagonals of the phone keypad one after
  the other (147258, 159753, 789456);
- dates in every order: YYMMDD, YYDDMM, MMDDYY, MMYYDD, DDMMYY, DDYYMM, and
  YYYYMM / MMYYYY for the years 1900-2099.

``blocklist_share()`` is the share of the 10^6 PINs this removes (about 14.8%,
asserted in the tests and reported in docs/security.md).
"""

import datetime as dt
import itertools
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "common_6_digit_pins.txt"
PIN_SPACE = 10**6

# The phone keypad; each line is three keys in a row, column or diagonal.
KEYPAD_LINES = ("123", "456", "789", "147", "258", "369", "159", "357", "580")


def published_pins() -> set[str]:
    pins = set()
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            if len(entry) != 6 or not entry.isdigit():
                raise ValueError(f"{DATA_FILE.name}: {entry!r} is not a 6-digit PIN")
            pins.add(entry)
    return pins


def _repeats() -> set[str]:
    digits = "0123456789"
    found = set()
    for a, b, c in itertools.product(digits, repeat=3):
        found |= {a * 6, (a + b) * 3, (a + b + c) * 2, a * 2 + b * 2 + c * 2, a * 3 + b * 3}
    for a, b in itertools.product(digits, repeat=2):
        for position in range(6):
            found.add(a * position + b + a * (5 - position))
    return found


def _runs() -> set[str]:
    return {
        "".join(str((start + step * i) % 10) for i in range(6))
        for start in range(10)
        for step in range(1, 10)
    }


def _mirrored() -> set[str]:
    return {"".join(p) + "".join(reversed(p)) for p in itertools.product("0123456789", repeat=3)}


def _keypad_shapes() -> set[str]:
    lines = set(KEYPAD_LINES) | {line[::-1] for line in KEYPAD_LINES}
    return {first + second for first in lines for second in lines}


def _dates() -> set[str]:
    found = set()
    day = dt.date(1900, 1, 1)
    while day.year < 2100:
        yyyy, yy = f"{day.year:04d}", f"{day.year % 100:02d}"
        mm, dd = f"{day.month:02d}", f"{day.day:02d}"
        found |= {
            yy + mm + dd,
            yy + dd + mm,
            mm + dd + yy,
            mm + yy + dd,
            dd + mm + yy,
            dd + yy + mm,
            yyyy + mm,
            mm + yyyy,
        }
        day += dt.timedelta(days=1)
    return found


@lru_cache(maxsize=1)
def blocked_pins() -> frozenset[str]:
    """Every refused PIN (about a quarter of a million; built once per process)."""
    return frozenset(
        published_pins() | _repeats() | _runs() | _mirrored() | _keypad_shapes() | _dates()
    )


def is_common_pin(pin: str) -> bool:
    return pin in blocked_pins()


def blocklist_share() -> float:
    return len(blocked_pins()) / PIN_SPACE

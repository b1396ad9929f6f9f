"""Hostile values: a hand-picked list every target is tried with, and hypothesis
strategies for the generated cases."""

from hypothesis import strategies as st

ENORMOUS = "99999999999999999999"

HAND_PICKED: list[str] = [
    "",
    " ",
    "0",
    "-1",
    ENORMOUS,
    "-" + ENORMOUS,
    "1e309",
    "NaN",
    "inf",
    "0x10",
    "²",
    "١٢٣",
    "𝟙𝟚𝟛",
    "\x00",
    "a\x00b",
    "' OR 1=1 --",
    "'; DROP TABLE accounts_card; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ settings.SECRET_KEY }}",
    "%s%s%n",
    "../../etc/passwd",
    "\u202egnp.exe",
    "\ufeff1",
    "x" * 5000,
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "-0001-01-01",
    "null",
    "[]",
    "{}",
]

# Unicode categories that break naive parsing: digits of other scripts,
# superscripts and other number-like characters, control and format characters.
_TRICKY = st.characters(categories=["Nd", "No", "Nl", "Cc", "Cf", "Zs", "Po"])

hostile_text = st.one_of(
    st.sampled_from(HAND_PICKED),
    st.text(max_size=40),
    st.text(alphabet=_TRICKY, min_size=1, max_size=12),
    st.integers().map(str),
    st.integers(min_value=2**63 - 10, max_value=2**80).map(str),
    st.dates(min_value=__import__("datetime").date(1, 1, 1)).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=20).map(lambda s: s + "\x00"),
)

# Things a task might be handed by a confused caller or a corrupted message.
hostile_argument = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)

# Row ids for URL paths (the path converter takes ASCII digits only).
hostile_path_id = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=2**63 - 2, max_value=10**30),
)

# A reason no form accepts: blank, too long, or carrying a NUL byte.
invalid_reason = st.one_of(
    st.sampled_from(["", " ", "\t\n", "x" * 301, "reason\x00"]),
    st.text(
        alphabet=st.characters(categories=["Zs", "Cc"], exclude_characters="\x00"), max_size=5
    ).filter(lambda s: not s.strip()),
    st.text(min_size=301, max_size=400),
    st.text(max_size=20).map(lambda s: s + "\x00"),
)

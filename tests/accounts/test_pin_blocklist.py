"""Card passwords refuse the PINs people choose most (Wang et al., ASIA CCS 2017)."""

import datetime as dt

import pytest

from accounts.pin_blocklist import blocked_pins, blocklist_share, published_pins
from accounts.services.card_credentials import PasswordPolicyError, check_password_policy

# Named in the finding that the old policy let them through.
FROM_THE_FINDING = ["112233", "147258", "159753", "123321", "000001", "999998", "135790"]
# The study's most frequent Chinese 6-digit PINs (family members included).
TOP_PINS = [
    "123456",
    "111111",
    "000000",
    "123123",
    "666666",
    "888888",
    "121212",
    "654321",
    "520520",
    "521521",
    "159357",
    "789456",
    "147369",
    "258369",
    "147852",
    "123654",
    "987654",
    "456789",
    "112233",
    "111222",
    "131420",
    "520131",
    "201314",
    "168168",
    "518518",
]


def _refused(pin: str, customer=None) -> str:
    with pytest.raises(PasswordPolicyError) as refusal:
        check_password_policy(pin, customer=customer)
    return refusal.value.rule


@pytest.mark.parametrize("pin", FROM_THE_FINDING)
def test_every_weak_pin_from_the_finding_is_refused(pin):
    _refused(pin)


@pytest.mark.parametrize("pin", sorted(published_pins() | set(TOP_PINS)))
def test_every_pin_in_the_published_top_list_is_refused(pin):
    _refused(pin)


@pytest.mark.parametrize(
    ("pin", "order"),
    [
        ("900115", "YYMMDD"),
        ("901501", "YYDDMM"),
        ("011590", "MMDDYY"),
        ("019015", "MMYYDD"),
        ("150190", "DDMMYY"),
        ("159001", "DDYYMM"),
        ("199001", "YYYYMM"),
        ("011990", "MMYYYY"),
    ],
)
def test_a_date_in_any_order_is_refused_for_anyone(pin, order):
    assert _refused(pin) == "common_pin", order


def test_the_customers_own_birth_date_is_still_named_as_such():
    class Customer:
        birth_date = dt.date(1987, 6, 5)

    assert _refused("870605", Customer()) == "birth_date"


@pytest.mark.parametrize("pin", ["480135", "739164", "902716", "384917", "605281"])
def test_an_unremarkable_pin_is_accepted(pin):
    check_password_policy(pin)


def test_the_blocklist_removes_about_a_seventh_of_the_pin_space():
    share = blocklist_share()
    assert len(blocked_pins()) == round(share * 10**6)
    # Dates are most of it; reported in docs/security.md.
    assert 0.14 < share < 0.16, share


def test_every_entry_of_the_data_file_is_a_six_digit_pin():
    assert all(len(pin) == 6 and pin.isdigit() for pin in published_pins())
    assert len(published_pins()) >= 40

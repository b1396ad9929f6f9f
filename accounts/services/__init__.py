"""Every write in accounts that matters: one function per business action.

Grouped in modules by subject (card credentials, staff security); import them
from here: ``from accounts.services import change_card_password``.
"""

from accounts.services.staff_security import (
    change_staff_password,
    confirm_totp_enrolment,
    reset_staff_second_factor,
    reveal_customer_phone,
    set_staff_active,
    start_totp_enrolment,
    unlock_staff,
    verify_staff_second_factor,
)

__all__ = [
    # staff security
    "change_staff_password",
    "confirm_totp_enrolment",
    "reset_staff_second_factor",
    "reveal_customer_phone",
    "set_staff_active",
    "start_totp_enrolment",
    "unlock_staff",
    "verify_staff_second_factor",
]

"""Every write in accounts that matters: one function per business action.

Grouped in modules by subject (card credentials, staff security); import them
from here: ``from accounts.services import change_card_password``.
"""

from accounts.services.card_authenticators import (
    AuthenticatorChange,
    change_card_authenticator,
    flag_repeated_credential_changes,
)
from accounts.services.card_credentials import (
    CardPasswordError,
    CredentialLocked,
    CredentialNotSet,
    PasswordPolicyError,
    ResetLinkInvalid,
    ResetNotAllowed,
    VerificationRateLimited,
    change_card_password,
    check_password_reset_link,
    complete_password_reset,
    reset_needs_supervisor,
    start_password_reset,
    verify_card_password,
)
from accounts.services.customer_notices import (
    NoticeText,
    queue_customer_notice,
    send_customer_notice,
    sweep_customer_notices,
)
from accounts.services.second_factor_keys import rotate_second_factor_keys
from accounts.services.sign_in_history import clear_sign_in_history
from accounts.services.staff_grants import (
    approve_staff_change,
    check_staff_reset_link,
    complete_staff_password_reset,
    reject_staff_change,
    request_staff_change,
)
from accounts.services.staff_preferences import StaffPreferenceError, set_staff_language
from accounts.services.staff_security import (
    change_staff_password,
    confirm_totp_enrolment,
    provision_staff_second_factor,
    reset_staff_second_factor,
    reveal_customer_phone,
    set_staff_active,
    start_totp_enrolment,
    unlock_staff,
    verify_staff_second_factor,
)

__all__ = [
    # card credentials
    "AuthenticatorChange",
    "change_card_authenticator",
    "flag_repeated_credential_changes",
    "CardPasswordError",
    "CredentialLocked",
    "CredentialNotSet",
    "PasswordPolicyError",
    "ResetLinkInvalid",
    "ResetNotAllowed",
    "VerificationRateLimited",
    "change_card_password",
    "check_password_reset_link",
    "complete_password_reset",
    "reset_needs_supervisor",
    "start_password_reset",
    "verify_card_password",
    # customer notices
    "NoticeText",
    "queue_customer_notice",
    "send_customer_notice",
    "sweep_customer_notices",
    # staff access under maker-checker, sign-in history
    "approve_staff_change",
    "check_staff_reset_link",
    "clear_sign_in_history",
    "complete_staff_password_reset",
    "reject_staff_change",
    "request_staff_change",
    "rotate_second_factor_keys",
    # staff preferences
    "StaffPreferenceError",
    "set_staff_language",
    # staff security
    "change_staff_password",
    "confirm_totp_enrolment",
    "provision_staff_second_factor",
    "reset_staff_second_factor",
    "reveal_customer_phone",
    "set_staff_active",
    "start_totp_enrolment",
    "unlock_staff",
    "verify_staff_second_factor",
]

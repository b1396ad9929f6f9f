"""Card passwords: change, verify, and the staff-initiated reset by single-use link.

Every password change of every channel goes through ``change_card_password``:
one transaction (``credential_versions.record_credential_change``, shared with
the biometric and bound-device changes) stores the new hash, bumps the card's
credential version (for the transaction password), records the change, the
audit event and an outbox event; the re-sync of the card's mandates starts
after commit. Staff never
see or choose a password: a reset sends the customer a link, and only the
customer types the new password, on the customer-facing page.
"""

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.audit import AuditAction, record_audit_event
from accounts.card_passwords import card_password_matches, hash_card_password
from accounts.models import (
    Card,
    CardCredential,
    Channel,
    Customer,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)
from accounts.notifications import Notification
from accounts.pin_blocklist import is_common_pin
from accounts.rate_limits import CARD_PASSWORD_VERIFICATION, RateLimited
from accounts.services.credential_versions import record_credential_change
from accounts.services.link_delivery import send_link_after_commit

logger = logging.getLogger(__name__)

PERMISSION_APPROVE_LOCKED_RESET = "accounts.approve_locked_card_reset"
PERMISSION_START_RESET = "accounts.start_password_reset"


class CardPasswordError(Exception):
    """A card password action the bank's rules refuse; the message is for the person."""


class PasswordPolicyError(CardPasswordError):
    """The new password breaks a rule; ``rule`` names which one."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


class CredentialLocked(CardPasswordError):
    pass


class CredentialNotSet(CardPasswordError):
    pass


class VerificationRateLimited(CardPasswordError):
    """Too many verifications of one card's password in a short time (any outcome)."""


class ResetNotAllowed(CardPasswordError):
    pass


class ResetLinkInvalid(CardPasswordError):
    """``reason`` is "unknown", "expired", "used" or "cancelled"."""

    MESSAGES = {
        "unknown": gettext_noop("This link is not valid. Please ask the bank for a new one."),
        "expired": gettext_noop("This link has expired. Please ask the bank for a new one."),
        "used": gettext_noop("This link has already been used. Your password was changed."),
        "cancelled": gettext_noop(
            "This link was replaced by a newer one. Please use the latest message."
        ),
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


# --- Password policy -------------------------------------------------------------


def _is_run(digits: str, step: int) -> bool:
    # Modulo 10, so 890123 and 210987 count as runs too.
    return all(
        (int(b) - int(a)) % 10 == step % 10 for a, b in zip(digits, digits[1:], strict=False)
    )


def birth_date_variants(birth_date) -> set[str]:
    """Six-digit forms of a birth date a customer might pick: YYMMDD, DDMMYY, MMDDYY,
    YYYYMM, MMYYYY."""
    yyyy, yy = f"{birth_date.year:04d}", f"{birth_date.year % 100:02d}"
    mm, dd = f"{birth_date.month:02d}", f"{birth_date.day:02d}"
    return {yy + mm + dd, dd + mm + yy, mm + dd + yy, yyyy + mm, mm + yyyy}


def check_password_policy(password: str, *, customer: Customer | None = None) -> None:
    """Raise PasswordPolicyError naming the first rule the password breaks."""
    if len(password) != 6 or not password.isascii() or not password.isdigit():
        raise PasswordPolicyError(
            "six_digits", gettext_noop("The password must be exactly 6 digits.")
        )
    if len(set(password)) == 1:
        raise PasswordPolicyError(
            "repeated_digits",
            gettext_noop("The password must not be one digit repeated (like 111111)."),
        )
    for block in (2, 3):
        if password == password[:block] * (6 // block):
            raise PasswordPolicyError(
                "repeated_pattern",
                gettext_noop(
                    "The password must not repeat a short pattern (like 121212 or 123123)."
                ),
            )
    if _is_run(password, 1) or _is_run(password, -1):
        raise PasswordPolicyError(
            "sequential_digits",
            gettext_noop(
                "The password must not be a run of consecutive digits (like 123456 or 654321)."
            ),
        )
    birth_date = customer.birth_date if customer else None
    if birth_date is not None:
        month_day = f"{birth_date.month:02d}{birth_date.day:02d}"
        if password in birth_date_variants(birth_date) or month_day in password:
            raise PasswordPolicyError(
                "birth_date",
                gettext_noop("The password must not contain the customer's date of birth."),
            )
    if is_common_pin(password):
        raise PasswordPolicyError(
            "common_pin",
            "The password is one of the most common PINs (a date, a keypad pattern, a "
            "repeat or mirror); choose one that is harder to guess.",
        )


# --- Changing a password -------------------------------------------------------------


def check_channel(channel: str) -> None:
    if channel not in Channel.values:
        raise CardPasswordError(f"Unknown channel: {channel}")


def change_card_password(
    *,
    card: Card,
    new_password: str,
    kind: str,
    actor: StaffUser | None,
    channel: str,
    reset_request: PasswordResetRequest | None = None,
) -> PasswordChange:
    """Set a card password, for every channel. Returns the recorded change.

    A transaction-password change bumps the card's credential version and
    writes a ``card.credential_changed`` outbox event, whose consumer re-syncs
    the card's mandates after commit. A query password binds no mandate: it is
    recorded and audited, nothing more.
    """
    if kind not in CardCredential.Kind.values:
        raise CardPasswordError(f"Unknown password kind: {kind}")
    check_channel(channel)
    customer = Customer.objects.only("birth_date").get(pk=card.customer_id)
    check_password_policy(new_password, customer=customer)
    # Hashed before the transaction: argon2 takes tens of milliseconds that the
    # card row lock below need not be held for.
    password_hash = hash_card_password(new_password)

    def store(now: dt.datetime) -> None:
        credential, created = CardCredential.objects.select_for_update().get_or_create(
            card_id=card.pk, kind=kind, defaults={"password_hash": password_hash, "changed_at": now}
        )
        if not created:
            credential.password_hash = password_hash
            credential.failed_attempts = 0
            credential.locked_at = None
            credential.changed_at = now
            credential.save(
                update_fields=["password_hash", "failed_attempts", "locked_at", "changed_at"]
            )

    return record_credential_change(
        card=card,
        kind=kind,
        actor=actor,
        channel=channel,
        action=AuditAction.CARD_PASSWORD_CHANGED,
        store=store,
        summary={"reset_request_id": reset_request.pk if reset_request else None},
        reset_request=reset_request,
    )


# --- Verifying a password -----------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    matched: bool
    failed_attempts: int
    locked: bool


def verify_card_password(
    *,
    card: Card,
    password: str,
    kind: str = CardCredential.Kind.TRANSACTION,
    actor: StaffUser | None = None,
    channel: str = Channel.SYSTEM,
) -> VerificationResult:
    """Check a card password; count failures and lock after CARD_PASSWORD_MAX_FAILURES.

    The counter moves by conditional UPDATEs, so concurrent wrong guesses each
    count and the lock lands exactly at the limit.
    """
    credential = CardCredential.objects.filter(card_id=card.pk, kind=kind).first()
    if credential is None:
        raise CredentialNotSet(gettext_noop("This card has no password of that kind yet."))
    if credential.is_locked:
        record_audit_event(
            actor=actor,
            action=AuditAction.CARD_PASSWORD_VERIFICATION_REFUSED,
            target=card,
            summary={"kind": kind, "channel": channel, "reason": "locked"},
        )
        raise CredentialLocked(
            gettext_noop("The password is locked after too many wrong attempts.")
        )
    try:
        # Before hashing: each check costs an argon2 hash, so the limit also
        # protects the servers, not only the password.
        CARD_PASSWORD_VERIFICATION.hit(f"card:{card.pk}")
    except RateLimited as limited:
        record_audit_event(
            actor=actor,
            action=AuditAction.CARD_PASSWORD_VERIFICATION_REFUSED,
            target=card,
            summary={"kind": kind, "channel": channel, "reason": "rate_limited"},
        )
        raise VerificationRateLimited(str(limited)) from limited

    matched = card_password_matches(credential.password_hash, password)
    with transaction.atomic():
        credentials = CardCredential.objects.filter(pk=credential.pk)
        if matched:
            accepted = credentials.filter(locked_at__isnull=True).update(failed_attempts=0)
            if not accepted:
                # Locked by concurrent wrong guesses while this one was hashing.
                raise CredentialLocked(
                    gettext_noop("The password is locked after too many wrong attempts.")
                )
            locked_now = False
        else:
            credentials.update(failed_attempts=F("failed_attempts") + 1)
            locked_now = bool(
                credentials.filter(
                    locked_at__isnull=True,
                    failed_attempts__gte=settings.CARD_PASSWORD_MAX_FAILURES,
                ).update(locked_at=timezone.now())
            )
        credential.refresh_from_db(fields=["failed_attempts", "locked_at"])
        record_audit_event(
            actor=actor,
            action=AuditAction.CARD_PASSWORD_VERIFIED
            if matched
            else AuditAction.CARD_PASSWORD_VERIFICATION_FAILED,
            target=card,
            summary={
                "kind": kind,
                "channel": channel,
                "failed_attempts": credential.failed_attempts,
                "locked": locked_now,
            },
        )
    return VerificationResult(
        matched=matched, failed_attempts=credential.failed_attempts, locked=credential.is_locked
    )


# --- Staff-initiated reset ---------------------------------------------------------------


def reset_token_fingerprint(token: str) -> str:
    # A plain SHA-256 suffices: the token is 256 random bits, not a guessable secret.
    return hashlib.sha256(token.encode()).hexdigest()


def reset_needs_supervisor(*, card: Card, kind: str) -> bool:
    """A locked or closed card, a locked password, or a card flagged for repeated
    credential changes (a fraud signal) is reset only with a supervisor."""
    if card.status != Card.Status.ACTIVE or card.credential_changes_flagged_at is not None:
        return True
    if Customer.objects.filter(pk=card.customer_id, status=Customer.Status.CLOSED).exists():
        return True
    return CardCredential.objects.filter(
        card_id=card.pk, kind=kind, locked_at__isnull=False
    ).exists()


def _reset_link(token: str) -> str:
    path = reverse("customers:password_reset_link", kwargs={"token": token})
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def _recipient(customer: Customer, delivery_channel: str) -> str:
    if delivery_channel == PasswordResetRequest.DeliveryChannel.EMAIL:
        return customer.email
    return customer.phone


@transaction.atomic
def start_password_reset(
    *,
    card: Card,
    kind: str,
    verification_method: str,
    verification_reference: str,
    delivery_channel: str,
    actor: StaffUser,
    approved_by: StaffUser | None = None,
) -> PasswordResetRequest:
    """Record the identity check and send the customer a single-use reset link.

    The link's token goes only to the customer; the database keeps its
    fingerprint and the returned request carries nothing from which staff
    could use it. Earlier open links for the same card and password are cancelled.
    """
    if not actor.has_perm(PERMISSION_START_RESET):
        raise ResetNotAllowed(gettext_noop("You may not start a password reset."))
    if kind not in CardCredential.Kind.values:
        raise ResetNotAllowed(f"Unknown password kind: {kind}")
    if verification_method not in PasswordResetRequest.VerificationMethod.values:
        raise ResetNotAllowed(gettext_noop("Record how the customer's identity was verified."))
    verification_reference = verification_reference.strip()
    if not verification_reference:
        raise ResetNotAllowed(gettext_noop("Record the reference of the identity verification."))
    if delivery_channel not in PasswordResetRequest.DeliveryChannel.values:
        raise ResetNotAllowed(gettext_noop("Choose how the link reaches the customer."))
    # Lock the card only (not the joined customer): two resets of one card queue
    # here, so "cancel earlier open links" sees the other's link.
    card = Card.objects.select_for_update(of=("self",)).select_related("customer").get(pk=card.pk)
    if reset_needs_supervisor(card=card, kind=kind):
        if approved_by is None:
            raise ResetNotAllowed(
                gettext_noop(
                    "This card or password is locked or closed, or the card is flagged for "
                    "repeated credential changes: a supervisor must approve the reset."
                )
            )
        if not approved_by.has_perm(PERMISSION_APPROVE_LOCKED_RESET):
            raise ResetNotAllowed(f"{approved_by} may not approve a reset of a locked card.")
    elif approved_by is not None and not approved_by.has_perm(PERMISSION_APPROVE_LOCKED_RESET):
        raise ResetNotAllowed(f"{approved_by} may not approve resets.")
    recipient = _recipient(card.customer, delivery_channel)
    if not recipient:
        raise ResetNotAllowed(
            gettext_noop("The customer has no registered address for that channel.")
        )

    now = timezone.now()
    # The supervisor who approves this reset has looked at the repeated changes:
    # the flag is cleared, and only changes after now count towards a new one.
    cleared_flag = bool(
        approved_by is not None
        and Card.objects.filter(pk=card.pk, credential_changes_flagged_at__isnull=False).update(
            credential_changes_flagged_at=None, credential_changes_reviewed_at=now
        )
    )
    cancelled = PasswordResetRequest.objects.filter(
        card=card, kind=kind, used_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now
    ).update(cancelled_at=now)
    token = secrets.token_urlsafe(32)
    reset = PasswordResetRequest.objects.create(
        card=card,
        kind=kind,
        verification_method=verification_method,
        verification_reference=verification_reference[:80],
        delivery_channel=delivery_channel,
        token_fingerprint=reset_token_fingerprint(token),
        requested_by=actor,
        approved_by=approved_by,
        created_at=now,
        expires_at=now + timezone.timedelta(seconds=settings.PASSWORD_RESET_LINK_TTL_SECONDS),
    )
    record_audit_event(
        actor=actor,
        action=AuditAction.PASSWORD_RESET_STARTED,
        target=reset,
        summary={
            "card_id": card.pk,
            "kind": kind,
            "verification_method": verification_method,
            "delivery_channel": delivery_channel,
            "approved_by": approved_by.pk if approved_by else None,
            "cancelled_earlier_requests": cancelled,
            "cleared_repeated_change_flag": cleared_flag,
        },
    )
    minutes = max(1, settings.PASSWORD_RESET_LINK_TTL_SECONDS // 60)
    message = Notification(
        channel=delivery_channel,
        recipient=recipient,
        # In the language active now (the staff member's who started the reset).
        subject=gettext("Set your card password"),
        body=gettext(
            "To set a new %(kind)s for your car-loan card ending %(last_four)s, open "
            "%(link)s within %(minutes)d minutes. The link works once. Bank staff will "
            "never ask you for your password."
        )
        % {
            "kind": str(CardCredential.Kind(kind).label).lower(),
            "last_four": card.last_four,
            "link": _reset_link(token),
            "minutes": minutes,
        },
        topic="password_reset_link",
    )
    # ``reset.link_delivery.failed`` tells the page the gateway refused the link.
    reset.link_delivery = send_link_after_commit(message, target=reset, actor=actor)
    return reset


def _open_request(fingerprint: str, *, lock: bool = False) -> PasswordResetRequest:
    requests = PasswordResetRequest.objects.select_related("card", "card__customer")
    if lock:
        requests = requests.select_for_update(of=("self",))
    reset = requests.filter(token_fingerprint=fingerprint).first()
    if reset is None:
        raise ResetLinkInvalid("unknown")
    state = reset.link_state
    if state != PasswordResetRequest.LinkState.OPEN:
        raise ResetLinkInvalid(state.value)
    return reset


def check_password_reset_link(*, token_fingerprint: str) -> PasswordResetRequest:
    """The open request behind a link, or ResetLinkInvalid saying why not."""
    return _open_request(token_fingerprint)


def complete_password_reset(
    *, new_password: str, token: str = "", token_fingerprint: str = ""
) -> PasswordChange:
    """The customer sets the new password through the link (token, or its fingerprint).

    Works once: the request is claimed by a conditional UPDATE inside the same
    transaction as the change, and the unique reset_request on PasswordChange
    backs it up, so a double submit changes the password once. A password the
    policy refuses leaves the link usable for another try.
    """
    fingerprint = token_fingerprint or reset_token_fingerprint(token)
    with transaction.atomic():
        reset = _open_request(fingerprint, lock=True)
        check_password_policy(new_password, customer=reset.card.customer)
        now = timezone.now()
        claimed = PasswordResetRequest.objects.filter(
            pk=reset.pk, used_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise ResetLinkInvalid("used")
        change = change_card_password(
            card=reset.card,
            new_password=new_password,
            kind=reset.kind,
            actor=None,
            channel=Channel.STAFF_RESET,
            reset_request=reset,
        )
        record_audit_event(
            actor=None,
            actor_label="customer",
            action=AuditAction.PASSWORD_RESET_COMPLETED,
            target=reset,
            summary={"card_id": reset.card_id, "kind": reset.kind},
        )
    # The customer is told through the notice the credential change wrote (its outbox).
    return change

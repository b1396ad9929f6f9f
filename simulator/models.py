"""The simulated payment network's own books.

The network keeps its own state and knows only what the bank tells it: which
agreement belongs to which card (by an opaque card reference), which credential
version each agreement was bound to, and the latest credential version each
card was notified at. It never reads the bank's tables. The rows live in the
database only so that several worker processes share one network.

The first four tables were created by the ``debits`` app and keep their names,
so a database from before the move keeps its rows.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class SimulatedAgreement(models.Model):
    mandate_reference = models.CharField(max_length=32, unique=True)
    # The bank's opaque reference for the card, so a credential-change notice
    # reaches every agreement of the card. Empty on agreements bound before the
    # network learnt card references (they are filled at their next binding).
    card_reference = models.CharField(max_length=64, blank=True, default="", db_default="")
    token = models.CharField(max_length=80, unique=True)
    credential_version = models.PositiveIntegerField()
    revoked = models.BooleanField(default=False)
    bound_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "debits_simulatedagreement"
        indexes = [models.Index(fields=["card_reference"], name="sim_agreement_card_ref")]

    def __str__(self) -> str:
        return f"{self.mandate_reference} @ v{self.credential_version}"


class SimulatedCardCredential(models.Model):
    """The latest credential version the network knows for a card.

    Learnt from credential-change notices and from bindings; it only moves
    forward, so a repeated or late notice is harmless.
    """

    card_reference = models.CharField(max_length=64, unique=True)
    credential_version = models.PositiveIntegerField()
    learnt_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.card_reference} @ v{self.credential_version}"


class SimulatedCollection(models.Model):
    """The simulator's ledger: one row per idempotency key, first result wins."""

    idempotency_key = models.CharField(max_length=80, unique=True)
    mandate_reference = models.CharField(max_length=32)
    agreement_token = models.CharField(max_length=80)
    amount_minor = models.BigIntegerField()
    outcome = models.CharField(max_length=40)
    gateway_reference = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "debits_simulatedcollection"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="simulated_collection_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class SimulatedFault(models.Model):
    """A fault scripted for one mandate reference, so a test or the demo can force
    the payment network's answer (account closed, a timeout after collecting...).

    ``remaining`` counts how many more calls it applies to; null means every call.
    """

    class Outcome(models.TextChoices):
        INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
        ACCOUNT_CLOSED = "account_closed", "Account closed"
        AUTHORISATION_WITHDRAWN = "authorisation_withdrawn", "Authorisation withdrawn"
        LIMIT_EXCEEDED = "limit_exceeded", "Limit exceeded"
        # Collected, then no answer: get_status later reveals the success.
        TIMEOUT_AFTER_COLLECT = "timeout_after_collect", "Timeout after collecting"
        # No answer and nothing collected: get_status later says not found.
        TIMEOUT_BEFORE_COLLECT = "timeout_before_collect", "Timeout before collecting"
        UNAVAILABLE = "unavailable", "Gateway unavailable (5xx)"
        BIND_UNAVAILABLE = "bind_unavailable", "Agreement binding unavailable (5xx)"

    mandate_reference = models.CharField(max_length=32, db_index=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "debits_simulatedfault"

    def __str__(self) -> str:
        return f"{self.mandate_reference}: {self.outcome}"


class SimulatedPresentation(models.Model):
    """How often the simulator has seen a request key, so a retried request rolls
    its injected fault afresh (deterministically) instead of failing forever."""

    request_key = models.CharField(max_length=160, unique=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "debits_simulatedpresentation"

    def __str__(self) -> str:
        return f"{self.request_key} ×{self.count}"

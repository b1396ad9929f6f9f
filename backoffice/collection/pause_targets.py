"""What a pause or resume will stop or restart, named as staff see it.

A pause target reaches the pause form only as a signed token that the card
page, the pause search or the list of pauses in force put in a link: never as
an internal id typed into a box. A typo or an edited id cannot pause another
customer's card, because an id the workspace did not sign is refused, and
whatever the token names is shown (card, customer) before anything is paused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.utils.translation import gettext as _

from accounts.models import Card
from debits.models import CollectionPause, Mandate

_SALT = "backoffice.collection.pause-target"


class InvalidPauseTarget(Exception):
    """A token that this workspace did not sign, or whose card or mandate is gone."""


@dataclass(frozen=True)
class PauseTarget:
    scope: str
    card: Card | None = None
    mandate: Mandate | None = None

    @property
    def is_whole_book(self) -> bool:
        return self.scope == CollectionPause.Scope.BOOK

    @property
    def customer(self):
        if self.card is not None:
            return self.card.customer
        if self.mandate is not None:
            return self.mandate.card.customer
        return None

    @property
    def token(self) -> str:
        pk = {
            CollectionPause.Scope.CARD: self.card.pk if self.card else None,
            CollectionPause.Scope.MANDATE: self.mandate.pk if self.mandate else None,
        }.get(self.scope)
        return signing.dumps([self.scope, pk], salt=_SALT)

    def describe(self) -> str:
        """'card •••• 3231 of 孙娟': what the confirmation and the message name."""
        if self.scope == CollectionPause.Scope.CARD:
            return _("card •••• %(last_four)s of %(customer)s") % {
                "last_four": self.card.last_four,
                "customer": self.card.customer.full_name,
            }
        if self.scope == CollectionPause.Scope.MANDATE:
            return _(
                "mandate %(mandate)s (loan %(loan)s) on card •••• %(last_four)s of %(customer)s"
            ) % {
                "mandate": self.mandate.reference,
                "loan": self.mandate.loan.reference,
                "last_four": self.mandate.card.last_four,
                "customer": self.mandate.card.customer.full_name,
            }
        return _("the whole book (every customer)")

    def service_kwargs(self) -> dict:
        return {"scope": self.scope, "card": self.card, "mandate": self.mandate}


def card_target(card: Card) -> PauseTarget:
    return PauseTarget(scope=CollectionPause.Scope.CARD, card=card)


def mandate_target(mandate: Mandate) -> PauseTarget:
    return PauseTarget(scope=CollectionPause.Scope.MANDATE, mandate=mandate)


def whole_book_target() -> PauseTarget:
    return PauseTarget(scope=CollectionPause.Scope.BOOK)


def pause_target_of(pause: CollectionPause) -> PauseTarget:
    """The target of a pause in force (for its resume confirmation)."""
    return PauseTarget(scope=pause.scope, card=pause.card, mandate=pause.mandate)


def read_pause_target(token: str) -> PauseTarget:
    """The target a signed token names, loaded with its customer; else InvalidPauseTarget."""
    try:
        scope, pk = signing.loads(token or "", salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidPauseTarget(token) from exc
    if scope == CollectionPause.Scope.BOOK and pk is None:
        return whole_book_target()
    if scope == CollectionPause.Scope.CARD:
        card = Card.objects.select_related("customer").filter(pk=pk).first()
        if card is not None:
            return card_target(card)
    if scope == CollectionPause.Scope.MANDATE:
        mandate = Mandate.objects.select_related("loan", "card__customer").filter(pk=pk).first()
        if mandate is not None:
            return mandate_target(mandate)
    raise InvalidPauseTarget(token)

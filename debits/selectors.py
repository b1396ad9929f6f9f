"""Read queries for staff pages and the admin."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext

from debits.models import DebitRun


def recent_debit_runs(limit: int = 50) -> QuerySet[DebitRun]:
    return DebitRun.objects.select_related("requested_by").order_by("-started_at", "-id")[:limit]


# --- Card page: mandates and their re-syncs ----------------------------------------


def card_mandates_overview(card) -> dict:
    """Each mandate of the card with its sync state, and the card's sync history.

    Sync state is derived from versions: in sync, failed (retries ran out), or
    pending since the first change of a binding credential (transaction password,
    biometric, bound device) the mandate has not caught up with. A fixed number
    of queries however many mandates.
    """
    from debits.models import MandateSync

    rows = mandate_sync_rows([card])
    history = list(
        MandateSync.objects.filter(mandate__card=card)
        .select_related("mandate", "requested_by")
        .order_by("-requested_at", "-id")[:30]
    )
    return {"mandate_rows": rows, "sync_history": history}


def mandate_sync_rows(cards: list) -> list[dict]:
    """Each mandate of these cards (one customer's) with its sync state against its
    card: the card page's and the customer page's. Two queries however many cards."""
    from accounts.models import MANDATE_BINDING_CREDENTIAL_KINDS, PasswordChange
    from debits.models import Mandate

    by_id = {card.pk: card for card in cards}
    ids = list(by_id)
    changes: dict[int, list] = {}
    for card_id, version, at in (
        PasswordChange.objects.filter(card_id__in=ids, kind__in=MANDATE_BINDING_CREDENTIAL_KINDS)
        .order_by("credential_version", "changed_at")
        .values_list("card_id", "credential_version", "changed_at")
    ):
        changes.setdefault(card_id, []).append((version, at))
    rows = []
    for mandate in (
        Mandate.objects.filter(card_id__in=ids)
        .select_related("loan")
        .order_by("state", "reference")
    ):
        mandate.card = by_id[mandate.card_id]
        rows.append(_mandate_sync_row(mandate, mandate.card, changes.get(mandate.card_id, [])))
    return rows


def _mandate_sync_row(mandate, card, changes: list[tuple[int, object]]) -> dict:
    """A mandate's sync state against its card, given the card's binding changes
    (credential version, when) in version order."""
    from debits.models import Mandate

    if mandate.is_in_sync_with(card):
        state, since = "in_sync", mandate.synced_at
    elif mandate.sync_failed_at is not None:
        state, since = "failed", mandate.sync_failed_at
    else:
        state = "pending"
        since = next(
            (at for version, at in changes if version > mandate.synced_credential_version),
            card.credential_changed_at,
        )
    return {
        "mandate": mandate,
        "state": state,
        "since": since,
        "live": mandate.state in Mandate.LIVE_STATES,
    }


# --- Debit runs, attempts and the card's instalments ---------------------------------


def debit_run_progress(run_id: int) -> dict:
    """A run's progress and its counts by outcome, failure code and skip reason.

    Counted from the attempt and skip rows (three grouped queries), so the page
    agrees with the rows even while chunk tasks are still bumping the counters.
    """
    from django.db.models import Count

    from debits.models import DebitAttempt, DebitRun, SkippedInstalment

    run = DebitRun.objects.select_related("requested_by").get(pk=run_id)
    by_state = dict(
        DebitAttempt.objects.filter(run_id=run_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    by_code = list(
        DebitAttempt.objects.filter(run_id=run_id)
        .exclude(failure_code="")
        .values("failure_code")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_code")
        .values_list("failure_code", "n")
    )
    by_reason = list(
        SkippedInstalment.objects.filter(run_id=run_id)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
        .values_list("reason", "n")
    )
    percent = 100 if run.chunks_total == 0 else int(100 * run.chunks_done / run.chunks_total)
    return {
        "run": run,
        "percent": min(percent, 100),
        "attempts_by_state": {state: by_state.get(state, 0) for state in DebitAttempt.State.values},
        "failures_by_code": by_code,
        "skips_by_reason": by_reason,
    }


def unresolved_debit_attempts():
    """Failed and unknown attempts, newest first, with what the list and export show."""
    from debits.models import DebitAttempt

    return (
        DebitAttempt.objects.filter(
            state__in=[DebitAttempt.State.FAILED, DebitAttempt.State.UNKNOWN]
        )
        .select_related("instalment__loan", "mandate__card__customer", "run")
        .order_by("-created_at", "-id")
    )


def card_instalments_with_attempts(card) -> list:
    """Each instalment of the card's loans with its debit attempts and late fee.

    Three queries however many instalments: instalments with loan and fee,
    then all their attempts.
    """
    from django.db.models import Prefetch

    from debits.models import DebitAttempt, Instalment

    return list(
        Instalment.objects.filter(loan__card=card)
        .select_related("loan", "late_fee")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=DebitAttempt.objects.order_by("attempt_number"),
            )
        )
        .order_by("loan__reference", "sequence")
    )


def open_collection_pauses():
    from debits.models import CollectionPause

    return (
        CollectionPause.objects.filter(resumed_at__isnull=True)
        .select_related("card__customer", "mandate__loan", "mandate__card__customer", "paused_by")
        .order_by("-paused_at")
    )


def recent_collection_pauses(limit: int = 50):
    from debits.models import CollectionPause

    return (
        CollectionPause.objects.filter(resumed_at__isnull=False)
        .select_related("card", "mandate", "paused_by", "resumed_by")
        .order_by("-resumed_at")[:limit]
    )


@dataclass(frozen=True)
class NotRetried:
    """One attempt staff asked to retry that the retry run did not collect, and why."""

    attempt_id: int
    reason: str  # a debits.services.eligibility.SkipReason value
    label: str
    detail: str


def attempts_not_retried(*, run, attempt_ids: list[int]) -> list[NotRetried]:
    """Why each of these attempts was not retried by ``run`` (None: no run was started).

    Reads what the run recorded (its skips) and the instalments themselves, in
    three queries; an attempt whose instalment the run selected is not listed.
    """
    from debits.labels import SKIP_REASON_LABELS
    from debits.models import DebitAttempt, Instalment, SkippedInstalment
    from debits.services.eligibility import SkipReason

    attempts = list(
        DebitAttempt.objects.filter(pk__in=attempt_ids).select_related("instalment").order_by("pk")
    )
    skips = {}
    if run is not None:
        skips = {
            s.instalment_id: s
            for s in SkippedInstalment.objects.filter(
                run=run, instalment_id__in=[a.instalment_id for a in attempts]
            )
        }
    on_date = run.run_date if run is not None else None
    found = []
    for attempt in attempts:
        instalment = attempt.instalment
        if attempt.state != DebitAttempt.State.FAILED:
            reason, detail = SkipReason.ATTEMPT_NOT_FAILED, attempt.get_state_display()
        elif instalment.state not in Instalment.OPEN_STATES:
            reason, detail = SkipReason.INSTALMENT_SETTLED, instalment.get_state_display()
        elif on_date is not None and instalment.due_date > on_date:
            reason = SkipReason.NOT_DUE_YET
            detail = gettext("due on %(date)s; the run of that day collects it") % {
                "date": instalment.due_date.isoformat()
            }
        elif instalment.pk in skips:
            reason, detail = skips[instalment.pk].reason, skips[instalment.pk].detail
        else:
            continue
        found.append(
            NotRetried(
                attempt_id=attempt.pk,
                reason=str(reason),
                label=str(SKIP_REASON_LABELS.get(reason, reason)),
                detail=detail,
            )
        )
    return found


# Attempts named one by one in a "not retried" message; the rest are counted.
NOT_RETRIED_NAMED = 10


def skip_reason_in_sentence(reason: str) -> str:
    """A skip reason as it reads inside a sentence; an unknown code shows as itself."""
    from debits.labels import SKIP_REASON_IN_SENTENCE

    return str(SKIP_REASON_IN_SENTENCE.get(reason, reason))


def not_retried_messages(not_retried: list[NotRetried]) -> list[str]:
    """One line per reason, naming the attempts it held back (for staff messages)."""
    by_reason: dict[str, list[NotRetried]] = {}
    for item in not_retried:
        by_reason.setdefault(item.reason, []).append(item)
    lines = []
    for items in by_reason.values():
        named = ", ".join(f"#{item.attempt_id}" for item in items[:NOT_RETRIED_NAMED])
        if len(items) > NOT_RETRIED_NAMED:
            named += " " + gettext("and %(count)d more") % {"count": len(items) - NOT_RETRIED_NAMED}
        detail = f" ({items[0].detail})" if len(items) == 1 and items[0].detail else ""
        lines.append(
            gettext("Not retried because %(reason)s%(detail)s: attempt %(attempts)s.")
            % {
                "reason": skip_reason_in_sentence(items[0].reason),
                "detail": detail,
                "attempts": named,
            }
        )
    return lines


# Cards a pause search shows at most: the person narrows the search rather than scrolls.
PAUSE_SEARCH_LIMIT = 20


def pause_search_results(query: str) -> list:
    """Cards matching a customer search, each with its customer and live mandates.

    What the pause search shows so that a person picks a card or mandate by the
    customer's name and the card's last four; three queries.
    """
    from django.db.models import Prefetch

    from accounts.selectors import search_cards
    from debits.models import Mandate

    live = (
        Mandate.objects.filter(state__in=Mandate.LIVE_STATES)
        .select_related("loan")
        .order_by("reference")
    )
    return list(
        search_cards(query)
        .select_related("customer")
        .prefetch_related(Prefetch("mandates", queryset=live, to_attr="live_mandates"))
        .order_by("customer__full_name", "last_four", "pk")[:PAUSE_SEARCH_LIMIT]
    )


def open_pauses_for_card(card) -> list:
    """Pauses in force that stop this card's collection: the book's, the card's, its mandates'."""
    from django.db.models import Q

    from debits.models import CollectionPause

    return list(
        CollectionPause.objects.filter(resumed_at__isnull=True)
        .filter(Q(scope=CollectionPause.Scope.BOOK) | Q(card=card) | Q(mandate__card=card))
        .select_related("card__customer", "mandate__loan", "mandate__card__customer", "paused_by")
        .order_by("paused_at")
    )


# --- The staff search box ------------------------------------------------------------

# Results per page of the customer search, and the deepest page it serves: past
# that, the person narrows the search (a deeper OFFSET would read ever more rows).
CUSTOMER_SEARCH_PAGE_SIZE = 25
CUSTOMER_SEARCH_MAX_PAGE = 40


@dataclass(frozen=True)
class CustomerSearchPage:
    """One page of a customer search: whether another follows, never a total count
    (counting every 张 in a book of a million customers is a scan of the index)."""

    customers: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def customer_search_page(query: str, *, page: int = 1) -> CustomerSearchPage:
    """A page of customers matching the search, each with its cards and their loans.

    Three queries whatever the page holds: the customers (the page and one more row,
    to know whether a next page exists), their cards, the cards' loans.
    """
    from django.db.models import Prefetch, prefetch_related_objects

    from accounts.models import Card
    from accounts.selectors import search_customers
    from debits.models import Loan

    number = max(1, min(page, CUSTOMER_SEARCH_MAX_PAGE))
    first = (number - 1) * CUSTOMER_SEARCH_PAGE_SIZE
    rows = list(search_customers(query)[first : first + CUSTOMER_SEARCH_PAGE_SIZE + 1])
    customers = rows[:CUSTOMER_SEARCH_PAGE_SIZE]
    loans = Loan.objects.only("id", "card_id", "reference", "status").order_by("reference")
    cards = (
        Card.objects.only("id", "customer_id", "last_four", "status", "created_at")
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("loans", queryset=loans))
    )
    prefetch_related_objects(customers, Prefetch("cards", queryset=cards))
    return CustomerSearchPage(
        customers=customers,
        number=number,
        has_next=len(rows) > CUSTOMER_SEARCH_PAGE_SIZE and number < CUSTOMER_SEARCH_MAX_PAGE,
    )


# --- The customer 360° page ------------------------------------------------------------

# Debit attempts per page of the customer page, fees and alerts it lists, and the
# open instalments it shows per loan: the first screen stays short, the rest pages.
CUSTOMER_ATTEMPTS_PER_PAGE = 10
CUSTOMER_FEES_SHOWN = 20
CUSTOMER_ALERTS_SHOWN = 20
NEXT_INSTALMENTS_SHOWN = 3
UNRESOLVED_ATTEMPT_STATES = ("failed", "unknown")


def customer_collection_overview(
    cards: list, *, attempt_state: str = "", attempt_page: int = 1
) -> dict:
    """What collection looks like for these cards (one customer's): mandates and their
    sync state, pauses in force, loans with their next instalments, fees, open alerts,
    a page of debit attempts (optionally of one state) and the failures still open.

    Nine queries however many cards, mandates, loans or attempts.
    """
    from django.db.models import Prefetch, Q

    from debits.models import Alert, CollectionPause, DebitAttempt, Instalment, LateFee, Loan

    by_id = {card.pk: card for card in cards}
    ids = list(by_id)
    mandate_rows = mandate_sync_rows(cards)
    pauses = list(
        CollectionPause.objects.filter(resumed_at__isnull=True)
        .filter(
            Q(scope=CollectionPause.Scope.BOOK) | Q(card_id__in=ids) | Q(mandate__card_id__in=ids)
        )
        .select_related("card__customer", "mandate__loan", "mandate__card__customer", "paused_by")
        .order_by("paused_at")
    )
    open_instalments = Instalment.objects.filter(state__in=Instalment.OPEN_STATES).order_by(
        "due_date", "sequence"
    )
    loans = list(
        Loan.objects.filter(card_id__in=ids)
        .prefetch_related(Prefetch("instalments", open_instalments, to_attr="open_instalments"))
        .order_by("card_id", "reference")
    )
    for loan in loans:
        loan.card = by_id[loan.card_id]
        loan.next_instalments = loan.open_instalments[:NEXT_INSTALMENTS_SHOWN]
    fees = list(
        LateFee.objects.filter(instalment__loan__card_id__in=ids)
        .select_related("instalment__loan", "waiver_requested_by")
        .order_by("-accrued_at", "-id")[:CUSTOMER_FEES_SHOWN]
    )
    alerts = list(
        Alert.objects.filter(resolved_at__isnull=True)
        .filter(Q(card_id__in=ids) | Q(mandate__card_id__in=ids))
        .order_by("-raised_at", "-id")[:CUSTOMER_ALERTS_SHOWN]
    )
    attempts = DebitAttempt.objects.filter(mandate__card_id__in=ids)
    if attempt_state in DebitAttempt.State.values:
        attempts = attempts.filter(state=attempt_state)
    first = (attempt_page - 1) * CUSTOMER_ATTEMPTS_PER_PAGE
    attempt_rows = list(
        attempts.select_related("instalment__loan", "mandate").order_by("-created_at", "-id")[
            first : first + CUSTOMER_ATTEMPTS_PER_PAGE + 1
        ]
    )
    for attempt in attempt_rows:
        attempt.mandate.card = by_id[attempt.mandate.card_id]
    # The failures a person must still act on: the instalment is not yet collected.
    open_failures = DebitAttempt.objects.filter(
        mandate__card_id__in=ids,
        state__in=UNRESOLVED_ATTEMPT_STATES,
        instalment__state__in=Instalment.OPEN_STATES,
    ).count()
    return {
        "mandate_rows": mandate_rows,
        "pauses_in_force": pauses,
        "loans": loans,
        "fees": fees,
        "alerts": alerts,
        "attempts": attempt_rows[:CUSTOMER_ATTEMPTS_PER_PAGE],
        "attempts_have_next": len(attempt_rows) > CUSTOMER_ATTEMPTS_PER_PAGE,
        "open_failures": open_failures,
    }


def pauses_stopping_card(pauses: list, card) -> list:
    """Of the pauses in force, those that stop this card: the book's, its own, its mandates'."""
    return [
        p
        for p in pauses
        if p.card_id == card.pk
        or (p.mandate_id is not None and p.mandate.card_id == card.pk)
        or (p.card_id is None and p.mandate_id is None)
    ]

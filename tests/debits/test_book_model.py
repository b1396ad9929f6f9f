"""A model of the book, driven only through the services: cards and their password
changes, loans opened with their schedule, mandates created, bound, activated,
suspended and cancelled, debit runs over the simulated network with its faults,
staff retries, the janitor, the outbox sweeper and reconciliation.

After every step, whatever the sequence:
- at most one succeeded attempt per instalment, and at the network one collection;
- an instalment's amount paid is the sum of its succeeded attempts, and the
  network's ledger holds exactly that, plus collections not yet known to the bank
  (an attempt still submitted or unknown, which the janitor settles);
- nothing is ever collected under a stale agreement: every collection the network
  received presented the card's credential version of that moment;
- a mandate's state only moves along ``mandate_lifecycle.TRANSITIONS``;
- every committed credential change is synced to every live mandate of its card,
  or its failure is recorded (the event's error, the mandate flagged and alerted);
- every action a rule takes leaves its audit event, naming the staff member.

Runs on SQLite and on PostgreSQL (DATABASE_URL). Sized by ``tests/properties.py``:
``HYPOTHESIS_PROFILE=properties-thorough`` for a long run.
"""

import datetime as dt
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager, suppress
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Max, Sum
from django.test import TestCase, override_settings
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from accounts.models import AuditEvent, Card, Channel, OutboxEvent
from accounts.roles import Role
from accounts.services import PasswordPolicyError, change_card_password
from debits.mandate_lifecycle import TRANSITIONS
from debits.models import Alert, DebitAttempt, DebitRun, Instalment, Mandate
from debits.services import (
    DebitRunError,
    MandateNotResyncable,
    MandateTransitionError,
    activate_mandate,
    cancel_mandate,
    create_mandate,
    open_loan,
    reconcile_stale_mandates,
    resync_mandate,
    retry_debit_attempts,
    run_debit_job,
    settle_unresolved_attempts,
    suspend_mandate,
    sweep_outbox,
)
from debits.services.chunks import claim_chunk
from simulator.faults import script_fault
from simulator.gateway import SimulatorGateway
from simulator.models import SimulatedCollection, SimulatedFault
from tests.debit_helpers import bank_day
from tests.factories import CardCredentialFactory, StaffUserFactory
from tests.properties import PROFILE, generated, tried

FAULTS = [
    SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
    SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT,
    SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT,
    SimulatedFault.Outcome.UNAVAILABLE,
    SimulatedFault.Outcome.BIND_UNAVAILABLE,
    SimulatedFault.Outcome.LIMIT_EXCEEDED,
    SimulatedFault.Outcome.ACCOUNT_CLOSED,
]
# Valid transaction passwords (six digits, no run, no repeat, not common).
PASSWORDS = ["480135", "739264", "905718", "362849", "517093"]
CHANNELS = [Channel.MOBILE_APP, Channel.ATM, Channel.BRANCH, Channel.CORE_BANKING]
SETTLEMENT_ACCOUNT = "6217000010012345678"
UNSETTLED = (DebitAttempt.State.SUBMITTED, DebitAttempt.State.UNKNOWN, DebitAttempt.State.CREATED)
MAX_LOANS = 3


class CancelledWhileBinding(SimulatorGateway):
    """The customer withdraws the mandate while the network is binding its agreement."""

    def bind_agreement(self, **kwargs):
        cancel_mandate(
            mandate=Mandate.objects.get(reference=kwargs["mandate_reference"]),
            reason="Customer withdrew the authorisation",
            actor=None,
        )
        return super().bind_agreement(**kwargs)


def fen(amount: Decimal) -> int:
    return int(amount * 100)


class DebitBook(RuleBasedStateMachine):
    mandates = Bundle("mandates")

    def __init__(self):
        super().__init__()
        from backoffice.celery import app

        self._eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        # Each example runs in a savepoint rolled back at teardown: a clean book.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.today = timezone.localdate()
        self.day = 0
        self.cards = [CardCredentialFactory().card for _ in range(2)]
        self.operations = StaffUserFactory(role=Role.OPERATIONS.value)
        self.loans = 0
        self.seen_states: dict[int, str] = {}
        self.ledger_seen = 0
        tried("book model: examples")

    def teardown(self):
        from backoffice.celery import app

        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        app.conf.task_always_eager = self._eager

    @property
    def on_date(self) -> dt.date:
        return self.today + dt.timedelta(days=self.day)

    @contextmanager
    def step(self, name: str):
        """One thing happening on the bank's day: after-commit work runs as it would."""
        tried("book model: steps")
        tried(f"book model: {name}")
        self.audit_mark = AuditEvent.objects.aggregate(m=Max("pk"))["m"] or 0
        with ExitStack() as stack:
            stack.enter_context(bank_day(self.on_date))
            stack.enter_context(TestCase.captureOnCommitCallbacks(execute=True))
            yield

    def audited(self, action: str, actor=None) -> None:
        """The step left an audit event of ``action``, by ``actor`` when one is named."""
        events = AuditEvent.objects.filter(pk__gt=self.audit_mark, action=action)
        if actor is not None:
            events = events.filter(actor=actor)
        assert events.exists(), f"no {action} audit event by {actor}"

    # --- the bank opens loans and mandates ----------------------------------------

    @initialize(target=mandates)
    def first_loan(self):
        return self._open(card=self.cards[0], term=4)

    @rule(target=mandates, which=st.integers(0, 1), term=st.integers(2, 6))
    def another_loan(self, which, term):
        if self.loans >= MAX_LOANS:
            return self._open(card=None, term=term)
        return self._open(card=self.cards[which], term=term)

    def _open(self, *, card, term) -> int:
        if card is None:  # the book is full: hand back an existing mandate
            return Mandate.objects.filter(card__in=self.cards).order_by("pk").first().pk
        self.loans += 1
        with self.step("open loan and mandate"):
            start = self.on_date - dt.timedelta(days=65)
            loan = open_loan(
                card=card,
                reference=f"LN-BOOK-{self.loans}",
                principal=Decimal("12000.00"),
                annual_rate=Decimal("0.048"),
                term_months=term,
                start_date=start,
                actor=self.operations,
            )
            self.audited("loan.opened", self.operations)
            last = loan.instalments.aggregate(last=Max("due_date"), top=Max("amount_due"))
            mandate = create_mandate(
                loan=loan,
                reference=f"MD-BOOK-{self.loans}",
                settlement_account=SETTLEMENT_ACCOUNT,
                valid_from=start,
                valid_until=last["last"] + dt.timedelta(days=400),
                per_debit_cap=last["top"],
                actor=self.operations,
            )
            self.audited("mandate.created", self.operations)
            resync_mandate(mandate=mandate, actor=self.operations)
            self.audited("mandate.resynced", self.operations)
            activate_mandate(mandate=mandate, actor=self.operations)
            self.audited("mandate.activated", self.operations)
        return mandate.pk

    # --- customers and staff change things --------------------------------------

    @rule(
        which=st.integers(0, 1),
        password=st.sampled_from(PASSWORDS),
        channel=st.sampled_from(CHANNELS),
        by_staff=st.booleans(),
    )
    def password_changed(self, which, password, channel, by_staff):
        card = Card.objects.get(pk=self.cards[which].pk)
        actor = self.operations if by_staff else None
        with self.step("password change"):
            try:
                change_card_password(
                    card=card,
                    new_password=password,
                    kind="transaction",
                    actor=actor,
                    channel=Channel.STAFF_RESET if by_staff else channel,
                )
            except PasswordPolicyError:
                return
            self.audited("card.password_changed", actor)

    @rule(which=st.integers(0, 1), password=st.sampled_from(PASSWORDS), cancel=st.booleans())
    def password_changed_during_a_binding_outage(self, which, password, cancel):
        """Every re-sync retry meets the outage: the change is given up and flagged;
        then, perhaps, a mandate is cancelled while staff's repairing re-sync is bound."""
        tried("book model: binding outage")
        references = list(
            Mandate.objects.filter(card=self.cards[which]).values_list("reference", flat=True)
        )
        for reference in references:
            script_fault(
                mandate_reference=reference,
                outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
                times=None,
            )
        try:
            self.password_changed(which, password, Channel.MOBILE_APP, by_staff=False)
        finally:
            SimulatedFault.objects.filter(
                mandate_reference__in=references,
                outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
                remaining__isnull=True,
            ).delete()
        behind = Mandate.objects.filter(
            card=self.cards[which], state__in=Mandate.LIVE_STATES
        ).out_of_sync()
        if cancel and behind.exists():
            self.cancelled_while_the_network_binds(behind.order_by("pk").first().pk)

    @rule(mandate=mandates)
    def staff_resync(self, mandate):
        with self.step("staff re-sync"):
            row = Mandate.objects.get(pk=mandate)
            try:
                sync = resync_mandate(mandate=row, actor=self.operations)
            except MandateNotResyncable:
                assert row.state not in Mandate.LIVE_STATES
                return
            self.audited(
                {
                    "succeeded": "mandate.resynced",
                    "already_in_sync": "mandate.resync_skipped",
                    "failed": "mandate.resync_failed",
                }[sync.outcome],
                self.operations,
            )

    @rule(mandate=mandates)
    def cancelled_while_the_network_binds(self, mandate):
        row = Mandate.objects.get(pk=mandate)
        if row.state not in Mandate.LIVE_STATES or row.is_in_sync:
            return
        token, version = row.gateway_agreement_token, row.synced_credential_version
        with (
            self.step("cancelled during a re-sync"),
            override_settings(PAYMENT_GATEWAY="tests.debits.test_book_model.CancelledWhileBinding"),
        ):
            sync = resync_mandate(mandate=row, actor=self.operations)
        row.refresh_from_db()
        assert row.state == Mandate.State.CANCELLED
        assert (row.gateway_agreement_token, row.synced_credential_version) == (token, version)
        assert sync.error_code == "mandate_closed"

    @rule(mandate=mandates, move=st.sampled_from(["activate", "suspend", "cancel"]))
    def staff_moves_the_mandate(self, mandate, move):
        row = Mandate.objects.get(pk=mandate)
        target, action, service = {
            "activate": (Mandate.State.ACTIVE, "mandate.activated", activate_mandate),
            "suspend": (Mandate.State.SUSPENDED, "mandate.suspended", suspend_mandate),
            "cancel": (Mandate.State.CANCELLED, "mandate.cancelled", cancel_mandate),
        }[move]
        allowed = target in TRANSITIONS[row.state]
        with self.step(f"mandate {move}"):
            try:
                service(mandate=row, actor=self.operations, reason="Customer asked at the branch")
            except MandateTransitionError:
                assert not allowed or (move == "activate" and not row.gateway_agreement_token)
                return
            assert allowed, f"{row.state} -> {target} was let through"
            self.audited(action, self.operations)

    # --- the network and the clock ------------------------------------------------

    @rule(mandate=mandates, fault=st.sampled_from(FAULTS))
    def network_fault(self, mandate, fault):
        tried(f"book model: fault {fault}")
        script_fault(mandate_reference=Mandate.objects.get(pk=mandate).reference, outcome=fault)

    @rule(days=st.sampled_from([1, 3, 31]))
    def days_pass(self, days):
        tried("book model: days pass")
        self.day += days

    # --- the debit engine ---------------------------------------------------------

    @rule(kind=st.sampled_from([DebitRun.Kind.SCHEDULED, DebitRun.Kind.RETRY]))
    def debit_run(self, kind):
        with self.step("debit run"):
            runs, attempts = DebitRun.objects.count(), DebitAttempt.objects.count()
            run_debit_job(on_date=self.on_date, kind=kind)
            if DebitRun.objects.count() > runs:
                self.audited("debit_run.started")
            if DebitAttempt.objects.count() > attempts:
                self.audited("debit_run.chunk_collected")

    @rule()
    def worker_dies_after_claiming(self):
        with self.step("worker dies after claiming"):
            run = DebitRun.objects.create(run_date=self.on_date, kind=DebitRun.Kind.MANUAL)
            open_ids = Instalment.objects.filter(
                loan__card__in=self.cards, due_date__lte=self.on_date
            ).values_list("pk", flat=True)
            # ...and never calls the gateway nor records anything.
            claim_chunk(run=run, instalment_ids=list(open_ids))

    @rule(long_after=st.booleans())
    def janitor(self, long_after):
        with self.step("janitor"):
            later = dt.timedelta(days=1) if long_after else dt.timedelta(0)
            settled = settle_unresolved_attempts(now=timezone.now() + later)
            if sum(settled.values()):
                self.audited("debit_attempt.settled_by_janitor")

    @rule()
    def staff_retry_failed(self):
        failed = DebitAttempt.objects.filter(
            instalment__loan__card__in=self.cards, state=DebitAttempt.State.FAILED
        )
        if not failed.exists():
            return
        with self.step("staff retry"), suppress(DebitRunError):
            retry_debit_attempts(attempts=failed, actor=self.operations)
            self.audited("debit_attempt.retry_requested", self.operations)

    @rule()
    def the_system_settles(self):
        """Faults stop; the sweeper, reconciliation and the janitor do their rounds."""
        SimulatedFault.objects.all().delete()
        with self.step("the system settles"):
            sweep_outbox(older_than_seconds=0)
            reconcile_stale_mandates(older_than_seconds=0)
            settle_unresolved_attempts(now=timezone.now() + dt.timedelta(days=1))
        live = Mandate.objects.filter(card__in=self.cards, state__in=Mandate.LIVE_STATES)
        assert not live.out_of_sync().exists(), "a live mandate is still behind its card"
        assert not OutboxEvent.objects.filter(
            event_type=OutboxEvent.Type.CREDENTIAL_CHANGED, processed_at__isnull=True
        ).exists()
        assert not DebitAttempt.objects.filter(
            instalment__loan__card__in=self.cards, state__in=UNSETTLED
        ).exists(), "an attempt is still unsettled after the janitor"
        self._money_adds_up(strict=True)

    # --- what must always hold ----------------------------------------------------

    def _ledger(self):
        keys = dict(
            DebitAttempt.objects.filter(instalment__loan__card__in=self.cards).values_list(
                "idempotency_key", "pk"
            )
        )
        rows = SimulatedCollection.objects.filter(
            mandate_reference__in=Mandate.objects.filter(card__in=self.cards).values("reference")
        )
        return keys, rows

    @invariant()
    def one_success_per_instalment(self):
        succeeded = Counter(
            DebitAttempt.objects.filter(
                instalment__loan__card__in=self.cards, state=DebitAttempt.State.SUCCEEDED
            ).values_list("instalment_id", flat=True)
        )
        assert all(n == 1 for n in succeeded.values()), succeeded
        attempts = dict(
            DebitAttempt.objects.filter(instalment__loan__card__in=self.cards).values_list(
                "idempotency_key", "instalment_id"
            )
        )
        _, rows = self._ledger()
        collected = Counter(
            attempts[key]
            for key in rows.filter(outcome="succeeded").values_list("idempotency_key", flat=True)
        )
        assert all(n == 1 for n in collected.values()), collected

    @invariant()
    def money_adds_up(self):
        self._money_adds_up(strict=False)

    def _money_adds_up(self, *, strict: bool):
        attempts = {
            key: (instalment_id, state)
            for key, instalment_id, state in DebitAttempt.objects.filter(
                instalment__loan__card__in=self.cards
            ).values_list("idempotency_key", "instalment_id", "state")
        }
        _, rows = self._ledger()
        at_network = defaultdict(int)
        unknown_to_bank = defaultdict(int)
        for key, amount_minor in rows.filter(outcome="succeeded").values_list(
            "idempotency_key", "amount_minor"
        ):
            # Never a collection without the bank's attempt row written first.
            assert key in attempts, f"collected under {key}, which no attempt holds"
            instalment_id, state = attempts[key]
            at_network[instalment_id] += amount_minor
            if state in UNSETTLED:
                unknown_to_bank[instalment_id] += amount_minor
        succeeded = dict(
            DebitAttempt.objects.filter(
                instalment__loan__card__in=self.cards, state=DebitAttempt.State.SUCCEEDED
            )
            .values("instalment_id")
            .annotate(total=Sum("amount"))
            .values_list("instalment_id", "total")
        )
        for instalment in Instalment.objects.filter(loan__card__in=self.cards):
            paid = fen(instalment.amount_paid)
            assert paid == fen(succeeded.get(instalment.pk, Decimal(0))), instalment.pk
            assert at_network[instalment.pk] == paid + unknown_to_bank[instalment.pk]
            if strict:
                assert unknown_to_bank[instalment.pk] == 0

    @invariant()
    def never_collected_under_a_stale_agreement(self):
        _, rows = self._ledger()
        assert not rows.filter(outcome="agreement_stale").exists()
        # No step both changes a password and collects: the card's version now is the
        # one of the moment every collection of this step reached the network.
        versions = dict(
            Card.objects.filter(pk__in=[c.pk for c in self.cards]).values_list(
                "pk", "credential_version"
            )
        )
        presented = dict(
            DebitAttempt.objects.filter(instalment__loan__card__in=self.cards).values_list(
                "idempotency_key", "presented_credential_version"
            )
        )
        card_of = dict(
            Mandate.objects.filter(card__in=self.cards).values_list("reference", "card_id")
        )
        for pk, key, reference in rows.filter(pk__gt=self.ledger_seen).values_list(
            "pk", "idempotency_key", "mandate_reference"
        ):
            assert presented[key] == versions[card_of[reference]], (key, presented[key])
            self.ledger_seen = max(self.ledger_seen, pk)

    @invariant()
    def mandates_move_only_along_the_lifecycle(self):
        for pk, state in Mandate.objects.filter(card__in=self.cards).values_list("pk", "state"):
            before = self.seen_states.get(pk)
            if before is not None and before != state:
                assert state in TRANSITIONS[before], f"mandate {pk}: {before} -> {state}"
            self.seen_states[pk] = state

    @invariant()
    def every_credential_change_is_synced_or_its_failure_recorded(self):
        for event in OutboxEvent.objects.filter(
            event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
            payload__card_id__in=[c.pk for c in self.cards],
        ):
            version = int(event.payload["credential_version"])
            behind = Mandate.objects.filter(
                card_id=int(event.payload["card_id"]),
                state__in=Mandate.LIVE_STATES,
                synced_credential_version__lt=version,
            )
            if event.processed_at is None:
                assert event.attempts > 0 and event.last_error, f"event {event.pk} unrecorded"
                continue
            for mandate in behind:
                assert mandate.sync_failed_at is not None, f"{mandate} behind, not flagged"
                assert Alert.objects.filter(
                    kind=Alert.Kind.RESYNC_FAILED, mandate=mandate, resolved_at__isnull=True
                ).exists(), f"{mandate} behind with no open alert"


@pytest.mark.django_db
def test_no_sequence_of_actions_breaks_the_books_invariants():
    # Sized for CI (well under a minute on two busy cores); the thorough profile
    # runs many more and longer sequences.
    thorough = PROFILE.max_examples > 100
    run_state_machine_as_test(
        DebitBook,
        settings=generated(
            scale=1.0 if thorough else 0.1,
            stateful_step_count=PROFILE.stateful_step_count if thorough else 15,
            report_multiple_bugs=False,
        ),
    )

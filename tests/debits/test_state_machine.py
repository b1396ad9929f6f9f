"""Any sequence of password changes, re-syncs, runs, faults, crashes, janitor passes and
staff retries: never two successful collections for one instalment, never a lost
instalment, never a collect presented with a stale agreement (the simulated
network's ledger is the witness)."""

import contextlib
import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import F
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from accounts.models import Card
from accounts.roles import Role
from debits.gateways import get_gateway
from debits.models import DebitAttempt, DebitRun, Instalment, Mandate
from debits.services import (
    DebitRunError,
    resync_mandate,
    retry_debit_attempts,
    run_debit_job,
    settle_unresolved_attempts,
)
from debits.services.chunks import claim_chunk
from simulator.faults import script_fault
from simulator.models import SimulatedCollection, SimulatedFault
from tests.debit_helpers import bank_day, bind_at_network
from tests.factories import CardFactory, InstalmentFactory, MandateFactory, StaffUserFactory

FAULTS = [
    SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
    SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT,
    SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT,
    SimulatedFault.Outcome.UNAVAILABLE,
    SimulatedFault.Outcome.BIND_UNAVAILABLE,
    SimulatedFault.Outcome.LIMIT_EXCEEDED,
]


def _instalment_of(key: str) -> int:
    return int(key.split("-")[1])


class DebitEngine(RuleBasedStateMachine):
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
        self.card = CardFactory()
        self.mandates = []
        self.instalments = []
        for months_ago in (1, 0):
            instalment = InstalmentFactory(
                loan__card=self.card,
                sequence=1,
                due_date=self.today - dt.timedelta(days=30 * months_ago),
            )
            mandate = MandateFactory(loan=instalment.loan, card=self.card)
            self.mandates.append(bind_at_network(mandate))
            self.instalments.append(instalment)
        self.operations = StaffUserFactory(role=Role.OPERATIONS.value)

    def teardown(self):
        from backoffice.celery import app

        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        app.conf.task_always_eager = self._eager

    @property
    def on_date(self) -> dt.date:
        return self.today + dt.timedelta(days=self.day)

    # --- what happens in the world --------------------------------------------------

    @rule()
    def password_changed_elsewhere(self):
        # A change from another channel whose event never reached the debit engine;
        # the core system still told the payment network.
        Card.objects.filter(pk=self.card.pk).update(credential_version=F("credential_version") + 1)
        self.card.refresh_from_db()
        get_gateway().notify_credential_change(
            card_reference=self.card.network_reference,
            credential_version=self.card.credential_version,
        )

    @rule(which=st.integers(0, 1))
    def resync(self, which):
        resync_mandate(mandate=Mandate.objects.get(pk=self.mandates[which].pk))

    @rule(which=st.integers(0, 1), fault=st.sampled_from(FAULTS))
    def network_fault(self, which, fault):
        script_fault(mandate_reference=self.mandates[which].reference, outcome=fault)

    @rule()
    def a_day_passes(self):
        self.day += 1

    # --- what the bank does ------------------------------------------------------------

    @rule(kind=st.sampled_from([DebitRun.Kind.SCHEDULED, DebitRun.Kind.RETRY]))
    def debit_run(self, kind):
        # A run is never dated ahead: the bank's clock moves to the machine's day.
        with bank_day(self.on_date), TestCase.captureOnCommitCallbacks(execute=True):
            run = run_debit_job(on_date=self.on_date, kind=kind)
        self._check_nothing_lost(run)

    @rule()
    def worker_dies_after_claiming(self):
        run = DebitRun.objects.create(run_date=self.on_date, kind=DebitRun.Kind.MANUAL)
        # ...and never calls the gateway nor records anything.
        claim_chunk(run=run, instalment_ids=[i.pk for i in self.instalments])

    @rule(long_after=st.booleans())
    def janitor(self, long_after):
        later = dt.timedelta(days=1) if long_after else dt.timedelta(seconds=0)
        settle_unresolved_attempts(now=timezone.now() + later)

    @rule()
    def staff_retry_failed(self):
        failed = DebitAttempt.objects.filter(
            instalment__in=self.instalments, state=DebitAttempt.State.FAILED
        )
        if failed.exists():
            # Refused when no selected attempt is failed any more.
            with (
                TestCase.captureOnCommitCallbacks(execute=True),
                contextlib.suppress(DebitRunError),
            ):
                retry_debit_attempts(attempts=failed, actor=self.operations)

    # --- what must always hold ------------------------------------------------------------

    def _check_nothing_lost(self, run: DebitRun):
        """Every open instalment due by the run's date was attempted or skipped with a reason."""
        run.refresh_from_db()
        if run.run_date != self.on_date or run.dry_run:
            return  # the day's scheduled run already existed: this call did nothing
        due = Instalment.objects.filter(
            pk__in=[i.pk for i in self.instalments], due_date__lte=run.run_date
        )
        accounted = set(run.attempts.values_list("instalment_id", flat=True)) | set(
            run.skips.values_list("instalment_id", flat=True)
        )
        for instalment in due:
            was_open_before = (
                instalment.state != Instalment.State.PAID
                or run.attempts.filter(instalment=instalment).exists()
            )
            if was_open_before and instalment.paid_at is None:
                assert instalment.pk in accounted, f"instalment {instalment.pk} silently dropped"

    @invariant()
    def never_two_successful_collections(self):
        ledger = SimulatedCollection.objects.filter(
            mandate_reference__in=[m.reference for m in self.mandates], outcome="succeeded"
        ).values_list("idempotency_key", flat=True)
        per_instalment = Counter(_instalment_of(key) for key in ledger)
        assert all(n == 1 for n in per_instalment.values()), per_instalment
        for instalment in Instalment.objects.filter(pk__in=[i.pk for i in self.instalments]):
            succeeded = list(
                instalment.attempts.filter(state=DebitAttempt.State.SUCCEEDED).values_list(
                    "idempotency_key", flat=True
                )
            )
            paid = instalment.state in (Instalment.State.PAID, Instalment.State.SETTLED_LATE)
            assert paid == bool(succeeded)
            if succeeded:
                assert succeeded[0] in set(ledger)
            elif per_instalment[instalment.pk]:
                # Collected at the network but not yet recorded: only while an attempt
                # is unsettled, which the janitor will settle as a success.
                assert instalment.attempts.filter(
                    state__in=[DebitAttempt.State.SUBMITTED, DebitAttempt.State.UNKNOWN]
                ).exists(), f"instalment {instalment.pk} collected but lost"

    @invariant()
    def never_collected_with_a_stale_agreement(self):
        stale = SimulatedCollection.objects.filter(
            mandate_reference__in=[m.reference for m in self.mandates],
            outcome="agreement_stale",
        )
        assert not stale.exists(), list(stale.values_list("idempotency_key", "agreement_token"))


DebitEngine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.django_db
def test_no_sequence_collects_twice_loses_an_instalment_or_presents_a_stale_agreement(
    collect_path,
):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(DebitEngine, settings=DebitEngine.TestCase.settings)

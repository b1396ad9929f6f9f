"""The simulated network's batch collect: the same answers as one call at a time, first
result wins per key, faults per item, a constant number of statements per batch."""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from debits.gateways.base import CollectionRequest, supports_batch
from simulator.faults import FaultRates, script_fault
from simulator.gateway import SimulatorGateway
from simulator.ledger import revoke_agreement
from simulator.models import SimulatedCollection, SimulatedFault, SimulatedPresentation
from tests.simulator.test_gateway import _outcomes, bind

pytestmark = pytest.mark.django_db


def items(token, keys, reference="MD1", amount=1028000):
    return [CollectionRequest(key, reference, token, amount) for key in keys]


def _batch_outcomes(gateway, token, keys):
    """Like ``_outcomes`` (one call at a time), from one batch call and one status batch."""
    results = gateway.collect_batch(items(token, keys))
    statuses = gateway.get_status_batch(keys)
    answers = []
    for result, status in zip(results, statuses, strict=True):
        if result.outcome == "timeout":
            answers.append("timeout:" + (status.outcome if status.found else "nothing"))
        elif result.outcome == "gateway_unavailable":
            answers.append("unavailable")
        else:
            answers.append(result.outcome)
    return answers


def test_the_simulator_takes_batches():
    assert supports_batch(SimulatorGateway())


def test_a_batch_answers_per_item_in_order_and_stale_or_revoked_agreements_per_item():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    other = bind(gateway, reference="MD2", card="card-2").agreement_token
    bind(gateway, reference="MD3", card="card-3")
    revoke_agreement(mandate_reference="MD2")
    gateway.notify_credential_change(card_reference="card-3", credential_version=2)
    batch = [
        CollectionRequest("k1", "MD1", token, 100),
        CollectionRequest("k2", "MD2", other, 200),
        CollectionRequest("k3", "MD1", "not-the-token", 300),
        CollectionRequest("k4", "MD3", "whatever", 400),
    ]
    results = gateway.collect_batch(batch)
    assert [r.idempotency_key for r in results] == ["k1", "k2", "k3", "k4"]
    assert [r.outcome for r in results] == [
        "succeeded",
        "agreement_revoked",
        "agreement_stale",
        "agreement_stale",
    ]
    assert SimulatedCollection.objects.count() == 4


def test_first_result_wins_per_key_and_other_parameters_conflict_per_item():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    first = gateway.collect_batch(items(token, ["k1", "k2"]))
    again = gateway.collect_batch(
        [*items(token, ["k1"]), CollectionRequest("k2", "MD1", token, 1), *items(token, ["k3"])]
    )
    assert again[0] == first[0]
    assert again[1].outcome == "idempotency_conflict"
    assert again[2].succeeded
    assert SimulatedCollection.objects.count() == 3
    # The per-call path sees the batch's ledger, and the other way round.
    assert gateway.get_status(idempotency_key="k2") == first[1]
    statuses = gateway.get_status_batch(["k3", "never-sent"])
    assert statuses[0] == again[2] and statuses[1].found is False


def test_scripted_faults_answer_per_item_and_a_timeout_after_collecting_is_in_the_ledger():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    bind(gateway, reference="MD2", card="card-2")
    for outcome in (
        SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT,
        SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT,
        SimulatedFault.Outcome.UNAVAILABLE,
        SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
    ):
        script_fault(mandate_reference="MD1", outcome=outcome)
    results = gateway.collect_batch(items(token, ["a", "b", "c", "d", "e"]))
    assert [r.outcome for r in results] == [
        "timeout",
        "timeout",
        "gateway_unavailable",
        "insufficient_funds",
        "succeeded",
    ]
    statuses = gateway.get_status_batch(["a", "b", "c", "d"])
    assert statuses[0].succeeded, "a timeout after collecting collected"
    assert statuses[1].found is False and statuses[2].found is False
    assert statuses[3].outcome == "insufficient_funds"
    # What carried out nothing is presented again, and collects now.
    retried = gateway.collect_batch(items(token, ["b", "c"]))
    assert [r.outcome for r in retried] == ["succeeded", "succeeded"]
    assert SimulatedPresentation.objects.get(request_key="collect:b").count == 1


def test_injected_faults_are_the_same_in_a_batch_as_one_call_at_a_time():
    rates = FaultRates(insufficient_funds=0.2, timeout=0.2, unavailable=0.2)
    keys = [f"key-{n}" for n in range(60)]
    token = bind(SimulatorGateway()).agreement_token
    gateway = SimulatorGateway(seed=7, rates=rates)
    one_by_one = _outcomes(gateway, token, keys)
    SimulatedCollection.objects.all().delete()
    SimulatedPresentation.objects.filter(request_key__startswith="collect:").delete()
    assert _batch_outcomes(gateway, token, keys) == one_by_one
    assert "timeout:insufficient_funds" not in one_by_one


@pytest.mark.postgres
def test_a_batch_costs_the_same_few_statements_whatever_its_size():
    gateway = SimulatorGateway(rates=FaultRates(timeout=0.3, unavailable=0.1))
    token = bind(gateway).agreement_token
    counts = []
    for size in (10, 500):
        keys = [f"n{size}-{n}" for n in range(size)]
        with CaptureQueriesContext(connection) as queries:
            results = gateway.collect_batch(items(token, keys))
        assert len(results) == size
        counts.append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            gateway.get_status_batch(keys)
        assert len(queries) == 1
    # The read, the ledger rows, the presentations of what carried out nothing.
    assert counts == [3, 3]


def test_the_latency_applies_once_per_batch():
    gateway = SimulatorGateway(latency_ms=50)
    token = bind(SimulatorGateway()).agreement_token
    started = time.perf_counter()
    results = gateway.collect_batch(items(token, [f"k{n}" for n in range(20)]))
    assert all(r.succeeded for r in results)
    # Twenty calls one at a time would wait a second.
    assert time.perf_counter() - started < 0.9


def test_a_batch_takes_its_latency_per_instruction_when_set(settings):
    settings.GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS = 40.0
    gateway = SimulatorGateway(latency_ms=0)
    token = bind(SimulatorGateway()).agreement_token
    started = time.perf_counter()
    results = gateway.collect_batch(items(token, [f"k{n}" for n in range(20)]))
    assert all(r.succeeded for r in results)
    # Twenty instructions at 40 ms each: the fault-injection run paces its batches so.
    assert time.perf_counter() - started >= 0.8
    started = time.perf_counter()
    assert all(r.found for r in gateway.get_status_batch([f"k{n}" for n in range(20)]))
    assert time.perf_counter() - started < 0.4  # a status query is not paced


def test_a_batch_repeating_a_key_or_too_large_is_refused_before_anything_is_sent():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    with pytest.raises(ValueError):
        gateway.collect_batch(items(token, ["k1", "k1"]))
    with pytest.raises(ValueError):
        gateway.collect_batch(items(token, [f"k{n}" for n in range(1001)]))
    with pytest.raises(ValueError):
        gateway.collect_batch(items(token, ["k1"], amount=0))
    assert not SimulatedCollection.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_presenting_the_same_keys_at_once_collect_each_key_once():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    keys = [f"race-{n}" for n in range(200)]
    answers: list[list] = []
    barrier = threading.Barrier(2)

    def present():
        try:
            barrier.wait()
            answers.append(gateway.collect_batch(items(token, keys)))
        finally:
            connection.close()

    threads = [threading.Thread(target=present) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 2
    assert SimulatedCollection.objects.filter(idempotency_key__in=keys).count() == 200
    # Whoever wrote second was answered with the first writer's result.
    assert answers[0] == answers[1]

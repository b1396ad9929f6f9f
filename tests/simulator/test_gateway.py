"""The simulated payment network: agreements, credential versions, idempotency, faults."""

import threading

import pytest
from django.db import connection

from debits.gateways.base import GatewayTimeout, GatewayUnavailable, IdempotencyConflict
from simulator.faults import FaultRates, script_fault
from simulator.gateway import SimulatorGateway
from simulator.ledger import bound_version, known_credential_version, revoke_agreement
from simulator.models import (
    SimulatedAgreement,
    SimulatedCardCredential,
    SimulatedCollection,
    SimulatedFault,
    SimulatedPresentation,
)

pytestmark = pytest.mark.django_db


def bind(gateway, reference="MD1", version=1, card="card-1"):
    return gateway.bind_agreement(
        mandate_reference=reference,
        card_reference=card,
        account_fingerprint="f" * 64,
        credential_version=version,
    )


def collect(gateway, key, token, reference="MD1", amount=1028000):
    return gateway.collect(
        idempotency_key=key,
        mandate_reference=reference,
        agreement_token=token,
        amount_minor=amount,
    )


def test_it_binds_a_new_token_per_credential_version_and_the_same_one_again():
    gateway = SimulatorGateway()
    first = bind(gateway, version=1)
    again = bind(gateway, version=1)
    second = bind(gateway, version=2)
    assert first.agreement_token == again.agreement_token
    assert second.agreement_token != first.agreement_token
    assert second.credential_version == 2
    assert SimulatedAgreement.objects.count() == 1


def test_it_never_binds_an_agreement_backwards():
    gateway = SimulatorGateway()
    newer = bind(gateway, version=3)
    older = bind(gateway, version=2)
    assert older == newer
    assert bound_version("MD1") == 3


def test_a_collect_with_the_old_agreement_after_a_rebind_is_rejected_as_stale():
    gateway = SimulatorGateway()
    old = bind(gateway, version=1)
    new = bind(gateway, version=2)
    stale = collect(gateway, "k-stale", old.agreement_token)
    fresh = collect(gateway, "k-fresh", new.agreement_token)
    assert stale.outcome == "agreement_stale"
    assert fresh.succeeded
    assert collect(gateway, "k-unknown", "forged-token").outcome == "agreement_stale"


def test_a_credential_change_notice_makes_the_cards_agreements_bound_before_it_stale():
    gateway = SimulatorGateway()
    first = bind(gateway, reference="MD1", card="card-1").agreement_token
    second = bind(gateway, reference="MD2", card="card-1").agreement_token
    other_card = bind(gateway, reference="MD3", card="card-2").agreement_token

    gateway.notify_credential_change(card_reference="card-1", credential_version=2)

    assert collect(gateway, "k1", first, reference="MD1").outcome == "agreement_stale"
    assert collect(gateway, "k2", second, reference="MD2").outcome == "agreement_stale"
    assert collect(gateway, "k3", other_card, reference="MD3").succeeded
    assert known_credential_version("card-1") == 2


def test_an_agreement_rebound_after_the_notice_collects_again():
    gateway = SimulatorGateway()
    bind(gateway, version=1)
    gateway.notify_credential_change(card_reference="card-1", credential_version=2)
    fresh = bind(gateway, version=2).agreement_token
    assert collect(gateway, "k1", fresh).succeeded


def test_a_repeated_or_older_notice_changes_nothing():
    gateway = SimulatorGateway()
    gateway.notify_credential_change(card_reference="card-1", credential_version=3)
    gateway.notify_credential_change(card_reference="card-1", credential_version=3)
    gateway.notify_credential_change(card_reference="card-1", credential_version=2)
    assert known_credential_version("card-1") == 3
    assert SimulatedCardCredential.objects.count() == 1


def test_binding_one_agreement_tells_the_network_the_cards_version_for_the_others():
    gateway = SimulatorGateway()
    old = bind(gateway, reference="MD1", version=1).agreement_token
    bind(gateway, reference="MD2", version=2)
    assert known_credential_version("card-1") == 2
    assert collect(gateway, "k1", old, reference="MD1").outcome == "agreement_stale"


def test_a_revoked_agreement_is_refused():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    revoke_agreement(mandate_reference="MD1")
    assert collect(gateway, "k1", token).outcome == "agreement_revoked"


def test_the_same_key_returns_the_first_result_and_other_parameters_conflict():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    first = collect(gateway, "k1", token)
    assert collect(gateway, "k1", token) == first
    with pytest.raises(IdempotencyConflict):
        collect(gateway, "k1", token, amount=999)
    assert SimulatedCollection.objects.count() == 1
    assert gateway.get_status(idempotency_key="k1") == first
    assert gateway.get_status(idempotency_key="never-sent").found is False


def test_a_scripted_outcome_answers_for_that_mandate_only_as_often_as_asked():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    script_fault(mandate_reference="MD1", outcome=SimulatedFault.Outcome.ACCOUNT_CLOSED)
    assert collect(gateway, "k1", token).outcome == "account_closed"
    assert collect(gateway, "k2", token).succeeded


def test_a_timeout_after_collecting_is_revealed_by_get_status():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    script_fault(mandate_reference="MD1", outcome=SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT)
    with pytest.raises(GatewayTimeout):
        collect(gateway, "k1", token)
    assert gateway.get_status(idempotency_key="k1").succeeded


def test_a_timeout_before_collecting_leaves_nothing_and_a_retry_collects():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    script_fault(mandate_reference="MD1", outcome=SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT)
    with pytest.raises(GatewayTimeout):
        collect(gateway, "k1", token)
    assert gateway.get_status(idempotency_key="k1").found is False
    assert collect(gateway, "k1", token).succeeded


def test_an_outage_carries_out_nothing():
    gateway = SimulatorGateway()
    token = bind(gateway).agreement_token
    script_fault(mandate_reference="MD1", outcome=SimulatedFault.Outcome.UNAVAILABLE)
    with pytest.raises(GatewayUnavailable):
        collect(gateway, "k1", token)
    assert gateway.get_status(idempotency_key="k1").found is False
    script_fault(mandate_reference="MD1", outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE)
    with pytest.raises(GatewayUnavailable):
        bind(gateway, version=2)


def _outcomes(gateway, token, keys):
    results = []
    for key in keys:
        try:
            results.append(collect(gateway, key, token).outcome)
        except GatewayTimeout:
            after = gateway.get_status(idempotency_key=key)
            results.append("timeout:" + (after.outcome if after.found else "nothing"))
        except GatewayUnavailable:
            results.append("unavailable")
    return results


def test_injected_faults_depend_on_the_seed_and_key_not_on_order():
    rates = FaultRates(insufficient_funds=0.2, timeout=0.2, unavailable=0.2)
    keys = [f"key-{n}" for n in range(60)]
    token = bind(SimulatorGateway()).agreement_token
    gateway = SimulatorGateway(seed=7, rates=rates)
    forwards = dict(zip(keys, _outcomes(gateway, token, keys), strict=True))
    SimulatedCollection.objects.all().delete()
    SimulatedPresentation.objects.filter(request_key__startswith="collect:").delete()
    backwards_keys = list(reversed(keys))
    backwards = dict(zip(backwards_keys, _outcomes(gateway, token, backwards_keys), strict=True))
    assert forwards == backwards
    seen = set(forwards.values())
    assert {
        "succeeded",
        "insufficient_funds",
        "unavailable",
        "timeout:succeeded",
        "timeout:nothing",
    } <= seen
    assert "timeout:insufficient_funds" not in seen, "a timeout after collecting collected"


def test_a_retried_request_rolls_its_fault_afresh():
    token = bind(SimulatorGateway()).agreement_token
    gateway = SimulatorGateway(seed=1, rates=FaultRates(unavailable=0.5))
    outcome = None
    for _ in range(30):
        try:
            outcome = collect(gateway, "retried", token).outcome
            break
        except GatewayUnavailable:
            continue
    assert outcome == "succeeded"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_bindings_of_one_version_end_with_one_token():
    gateway = SimulatorGateway()
    tokens: list[str] = []
    barrier = threading.Barrier(6)

    def worker():
        try:
            barrier.wait()
            tokens.append(bind(gateway, reference="MDRACE", version=4).agreement_token)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 6
    assert len(set(tokens)) == 1
    assert SimulatedAgreement.objects.get(mandate_reference="MDRACE").token == tokens[0]


def test_the_former_setting_path_still_names_the_simulator(settings):
    from debits.gateways import get_gateway

    settings.PAYMENT_GATEWAY = "debits.gateways.simulator.SimulatorGateway"
    assert isinstance(get_gateway(), SimulatorGateway)

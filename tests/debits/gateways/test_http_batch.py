"""The HTTP gateway's batch collect against a payment API served on 127.0.0.1, and a
chunk collected through it: one request per batch, answers per item, and a batch
nobody answered left ``unknown`` for the janitor, never collected again."""

import pytest
from django.utils import timezone

from debits.gateways import _gateway_for
from debits.gateways.base import (
    CollectionRequest,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    supports_batch,
)
from debits.gateways.http import HttpGateway
from debits.models import DebitAttempt, DebitRun, Instalment
from debits.services import collect_debit_chunk, settle_unresolved_attempts
from tests.debits.gateways.test_http_gateway import bind
from tests.factories import InstalmentFactory, MandateFactory


def batch(token, keys, amount=1028000):
    return [CollectionRequest(key, "MD1", token, amount) for key in keys]


def test_a_batch_is_one_request_answered_per_item_in_order(gateway, payment_api):
    assert supports_batch(gateway)
    token = bind(gateway).agreement_token
    before = len(payment_api.requests)
    results = gateway.collect_batch(batch(token, ["k1", "k2"]) + batch("old", ["k3"]))
    assert len(payment_api.requests) == before + 1
    sent = payment_api.requests[-1]
    assert sent["path"] == "/collections/batch"
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    assert [item["amount_minor"] for item in sent["body"]["items"]] == [1028000] * 3
    assert [(r.idempotency_key, r.outcome) for r in results] == [
        ("k1", "succeeded"),
        ("k2", "succeeded"),
        ("k3", "agreement_stale"),
    ]


def test_first_result_wins_per_item_and_a_reused_key_is_that_items_conflict(gateway):
    token = bind(gateway).agreement_token
    first = gateway.collect_batch(batch(token, ["k1"]))
    again = gateway.collect_batch(batch(token, ["k1"]) + batch(token, ["k1-other"], amount=5))
    assert again[0] == first[0]
    reused = gateway.collect_batch(batch(token, ["k1"], amount=7))
    assert reused[0].outcome == "idempotency_conflict"


def test_status_batch_answers_found_or_not_in_order(gateway):
    token = bind(gateway).agreement_token
    collected = gateway.collect_batch(batch(token, ["k1"]))
    statuses = gateway.get_status_batch(["never", "k1"])
    assert statuses[0].found is False and statuses[0].idempotency_key == "never"
    assert statuses[1] == collected[0]


def test_no_answer_in_time_is_a_timeout_for_the_whole_batch(gateway, payment_api):
    payment_api.script["/collections/batch"] = "hang"
    with pytest.raises(GatewayTimeout):
        gateway.collect_batch(batch("tok", ["k1", "k2"]))


@pytest.mark.parametrize(
    "answer",
    [
        "garbage",
        (200, {"results": []}),
        (200, {"results": [{"idempotency_key": "other", "outcome": "succeeded"}]}),
    ],
)
def test_an_answer_that_does_not_pair_with_the_items_is_unknown(gateway, payment_api, answer):
    payment_api.script["/collections/batch"] = answer
    with pytest.raises(GatewayTimeout):
        gateway.collect_batch(batch("tok", ["k1"]))


def test_a_5xx_carried_out_nothing_and_a_4xx_is_a_gateway_error(gateway, payment_api):
    payment_api.script["/collections/batch"] = (503, {"message": "maintenance"})
    with pytest.raises(GatewayUnavailable):
        gateway.collect_batch(batch("tok", ["k1"]))
    payment_api.script["/collections/batch"] = (400, {"message": "bad batch"})
    with pytest.raises(GatewayError, match="400"):
        gateway.collect_batch(batch("tok", ["k1"]))
    payment_api.script["/collections/status"] = (503, {"message": "maintenance"})
    with pytest.raises(GatewayUnavailable):
        gateway.get_status_batch(["k1"])


def test_a_batch_repeating_a_key_is_refused_before_anything_is_sent(gateway, payment_api):
    with pytest.raises(ValueError):
        gateway.collect_batch(batch("tok", ["k1", "k1"]))
    assert payment_api.requests == []


@pytest.fixture
def http_gateway_settings(settings, payment_api):
    settings.PAYMENT_GATEWAY = "debits.gateways.http.HttpGateway"
    settings.PAYMENT_GATEWAY_URL = payment_api.url
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.3
    settings.PAYMENT_GATEWAY_API_KEY = ""
    settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS = 0
    _gateway_for.cache_clear()
    yield
    _gateway_for.cache_clear()


def _bound_instalments(payment_api, count):
    instalments = []
    for _ in range(count):
        instalment = InstalmentFactory(due_date=timezone.localdate())
        mandate = MandateFactory(loan=instalment.loan)
        payment_api.agreements[mandate.reference] = {
            "mandate_reference": mandate.reference,
            "agreement_token": mandate.gateway_agreement_token,
            "credential_version": mandate.synced_credential_version,
            "card_reference": "c",
        }
        instalments.append(instalment)
    return instalments


@pytest.mark.django_db
@pytest.mark.usefixtures("http_gateway_settings")
def test_a_chunk_presents_one_batch_and_a_lost_answer_leaves_every_attempt_unknown(
    payment_api, settings
):
    settings.DEBIT_GATEWAY_BATCH_SIZE = 500
    instalments = _bound_instalments(payment_api, 3)
    ids = [i.pk for i in instalments]
    run = DebitRun.objects.create(run_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    payment_api.script["/collections/batch"] = "hang"
    collect_debit_chunk(run_id=run.pk, instalment_ids=ids)
    batches = [r for r in payment_api.requests if r["path"] == "/collections/batch"]
    assert len(batches) == 1 and len(batches[0]["body"]["items"]) == 3
    attempts = DebitAttempt.objects.filter(instalment_id__in=ids)
    assert set(attempts.values_list("state", flat=True)) == {DebitAttempt.State.UNKNOWN}

    # The network carried out the first (its answer was lost); the janitor asks, in one
    # status batch, and never collects anything.
    del payment_api.script["/collections/batch"]
    payment_api.collect(batches[0]["body"]["items"][0])
    settle_unresolved_attempts()
    assert [r["path"] for r in payment_api.requests[-1:]] == ["/collections/status"]
    states = dict(attempts.values_list("instalment_id", "state"))
    assert states[ids[0]] == DebitAttempt.State.SUCCEEDED
    assert states[ids[1]] == states[ids[2]] == DebitAttempt.State.FAILED
    assert Instalment.objects.get(pk=ids[0]).state == Instalment.State.PAID
    assert len([r for r in payment_api.requests if r["path"] == "/collections/batch"]) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("http_gateway_settings")
def test_a_gateway_without_a_batch_endpoint_is_called_once_per_instalment(payment_api, settings):
    class PerCallOnly(HttpGateway):
        collect_batch = None
        get_status_batch = None

    settings.PAYMENT_GATEWAY = f"{__name__}.PerCallOnlyGateway"
    globals()["PerCallOnlyGateway"] = PerCallOnly
    _gateway_for.cache_clear()
    settings.DEBIT_GATEWAY_BATCH_SIZE = 500
    ids = [i.pk for i in _bound_instalments(payment_api, 3)]
    run = DebitRun.objects.create(run_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    collect_debit_chunk(run_id=run.pk, instalment_ids=ids)
    paths = [r["path"] for r in payment_api.requests]
    assert paths.count("/collections") == 3 and "/collections/batch" not in paths
    assert Instalment.objects.filter(pk__in=ids, state=Instalment.State.PAID).count() == 3

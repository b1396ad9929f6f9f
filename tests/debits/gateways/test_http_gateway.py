"""The HTTP gateway adapter against a small payment API served on 127.0.0.1 in the test."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from debits.gateways.base import (
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
)
from debits.gateways.http import HttpGateway


class FakePaymentApi:
    """Keeps agreements and a ledger like the network would; ``script`` forces answers."""

    def __init__(self):
        self.agreements: dict[str, dict] = {}
        self.card_versions: dict[str, int] = {}
        self.ledger: dict[str, dict] = {}
        self.script: dict[str, tuple[int, object] | str] = {}
        self.requests: list[dict] = []

    def collect(self, body: dict) -> tuple[int, dict]:
        key = body["idempotency_key"]
        first = self.ledger.get(key)
        if first is not None:
            if first["params"] != body:
                return 409, {"message": "key reused with other parameters"}
            return 200, first["result"]
        agreement = self.agreements.get(body["mandate_reference"])
        stale = (
            agreement is None
            or agreement["agreement_token"] != body["agreement_token"]
            or agreement["credential_version"]
            < self.card_versions.get(agreement["card_reference"], 0)
        )
        result = {
            "idempotency_key": key,
            "outcome": "agreement_stale" if stale else "succeeded",
            "gateway_reference": f"GW{len(self.ledger) + 1}",
            "message": "",
        }
        self.ledger[key] = {"params": body, "result": result}
        return 200, result


def make_handler(api: FakePaymentApi):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: object) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _scripted(self, route: str) -> bool:
            action = api.script.get(route)
            if action is None:
                return False
            if action == "hang":
                time.sleep(1.0)
                return True
            if action == "garbage":
                self._send(200, b"<html>not json</html>")
                return True
            self._send(*action)
            return True

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            api.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self._scripted(self.path):
                return
            if self.path == "/agreements/bind":
                ref = body["mandate_reference"]
                current = api.agreements.get(ref)
                if current is None or current["credential_version"] < body["credential_version"]:
                    current = {
                        "mandate_reference": ref,
                        "agreement_token": f"tok-{ref}-{body['credential_version']}",
                        "credential_version": body["credential_version"],
                    }
                    api.agreements[ref] = current
                api.card_versions.setdefault(body["card_reference"], 0)
                current["card_reference"] = body["card_reference"]
                return self._send(200, current)
            if self.path == "/cards/credential-changes":
                card, version = body["card_reference"], body["credential_version"]
                api.card_versions[card] = max(api.card_versions.get(card, 0), version)
                self.send_response(204)
                self.end_headers()
                return None
            if self.path == "/collections":
                return self._send(*api.collect(body))
            if self.path == "/collections/batch":
                results = []
                for item in body["items"]:
                    status, result = api.collect(item)
                    if status == 409:
                        result = {"idempotency_key": item["idempotency_key"], "message": "reused"}
                        result["outcome"] = "idempotency_conflict"
                    results.append(result)
                return self._send(200, {"results": results})
            if self.path == "/collections/status":
                return self._send(
                    200,
                    {
                        "results": [
                            dict(api.ledger[key]["result"], found=True)
                            if key in api.ledger
                            else {"idempotency_key": key, "found": False}
                            for key in body["idempotency_keys"]
                        ]
                    },
                )
            return self._send(404, {"message": "no such route"})

        def do_GET(self):
            api.requests.append({"path": self.path, "headers": dict(self.headers)})
            if self._scripted(self.path):
                return
            prefix = "/collections/"
            if self.path.startswith(prefix):
                from urllib.parse import unquote

                entry = api.ledger.get(unquote(self.path[len(prefix) :]))
                if entry is None:
                    return self._send(404, {"message": "unknown key"})
                return self._send(200, entry["result"])
            return self._send(404, {"message": "no such route"})

    return Handler


@pytest.fixture
def payment_api():
    api = FakePaymentApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(payment_api):
    return HttpGateway(base_url=payment_api.url, timeout_seconds=0.3, api_key="test-key")


def bind(gateway, version=1):
    return gateway.bind_agreement(
        mandate_reference="MD1",
        card_reference="card-1",
        account_fingerprint="f" * 64,
        credential_version=version,
    )


def collect(gateway, token, key="k1", amount=1028000):
    return gateway.collect(
        idempotency_key=key, mandate_reference="MD1", agreement_token=token, amount_minor=amount
    )


def test_it_binds_and_collects_over_json_with_the_idempotency_key_header(gateway, payment_api):
    binding = bind(gateway, version=2)
    result = collect(gateway, binding.agreement_token)

    assert binding.credential_version == 2
    assert result.succeeded and result.gateway_reference == "GW1"
    sent = payment_api.requests[-1]
    assert sent["headers"]["Idempotency-Key"] == "k1"
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    assert sent["body"]["amount_minor"] == 1028000
    assert isinstance(sent["body"]["amount_minor"], int)


def test_a_stale_agreement_comes_back_as_the_networks_outcome(gateway):
    old = bind(gateway, version=1)
    bind(gateway, version=2)
    assert collect(gateway, old.agreement_token).outcome == "agreement_stale"


def test_a_credential_change_notice_is_sent_and_the_cards_old_agreement_is_then_stale(
    gateway, payment_api
):
    token = bind(gateway, version=1).agreement_token

    gateway.notify_credential_change(card_reference="card-1", credential_version=2)
    gateway.notify_credential_change(card_reference="card-1", credential_version=2)

    sent = payment_api.requests[-1]
    assert sent["path"] == "/cards/credential-changes"
    assert sent["body"] == {"card_reference": "card-1", "credential_version": 2}
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    assert payment_api.requests[0]["body"]["card_reference"] == "card-1"
    assert collect(gateway, token).outcome == "agreement_stale"


def test_a_refused_or_failed_notice_raises_a_gateway_error(gateway, payment_api):
    notice = {"card_reference": "card-1", "credential_version": 2}
    payment_api.script["/cards/credential-changes"] = (400, {"message": "unknown card"})
    with pytest.raises(GatewayError, match="unknown card"):
        gateway.notify_credential_change(**notice)
    payment_api.script["/cards/credential-changes"] = (503, {"message": "maintenance"})
    with pytest.raises(GatewayUnavailable):
        gateway.notify_credential_change(**notice)


def test_get_status_returns_the_first_result_or_not_found(gateway):
    token = bind(gateway).agreement_token
    first = collect(gateway, token, key="key/with spaces")
    assert gateway.get_status(idempotency_key="key/with spaces") == first
    assert gateway.get_status(idempotency_key="never-sent").found is False


def test_a_key_reused_with_other_parameters_is_a_conflict(gateway):
    token = bind(gateway).agreement_token
    collect(gateway, token)
    with pytest.raises(IdempotencyConflict):
        collect(gateway, token, amount=1)


def test_a_5xx_is_an_outage(gateway, payment_api):
    payment_api.script["/collections"] = (503, {"message": "maintenance"})
    with pytest.raises(GatewayUnavailable, match="503"):
        collect(gateway, "tok")


def test_no_answer_in_time_is_a_timeout_with_the_outcome_unknown(gateway, payment_api):
    payment_api.script["/collections"] = "hang"
    with pytest.raises(GatewayTimeout):
        collect(gateway, "tok")
    payment_api.script["/agreements/bind"] = "hang"
    with pytest.raises(GatewayTimeout):
        bind(gateway)


def test_an_unreadable_answer_to_a_collect_is_treated_as_unknown(gateway, payment_api):
    payment_api.script["/collections"] = "garbage"
    with pytest.raises(GatewayTimeout):
        collect(gateway, "tok")


def test_a_refused_connection_is_an_outage():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = HttpGateway(base_url=f"http://127.0.0.1:{port}", timeout_seconds=0.5)
    with pytest.raises(GatewayUnavailable):
        bind(gateway)


def test_a_4xx_other_than_a_conflict_is_a_gateway_error(gateway, payment_api):
    payment_api.script["/collections"] = (400, {"message": "bad currency"})
    with pytest.raises(GatewayError, match="bad currency"):
        collect(gateway, "tok")


def test_it_refuses_a_non_http_url():
    with pytest.raises(GatewayError):
        HttpGateway(base_url="file:///etc/passwd")

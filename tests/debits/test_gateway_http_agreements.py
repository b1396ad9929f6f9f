"""The HTTP gateway's agreement queries, which reconciliation compares with the bank's mandates."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from debits.gateways.base import MAX_AGREEMENTS_PER_QUERY, GatewayUnavailable
from debits.gateways.http import HttpGateway

AGREEMENTS = {
    f"MD{i:03d}": {
        "mandate_reference": f"MD{i:03d}",
        "agreement_token": f"tok-{i}",
        "credential_version": 1 + i % 3,
        "revoked": i == 7,
    }
    for i in range(1, 26)
}


class Handler(BaseHTTPRequestHandler):
    broken = False

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        url = urlparse(self.path)
        if Handler.broken:
            return self._send(200, b"<html>")
        if url.path.startswith("/agreements/"):
            found = AGREEMENTS.get(unquote(url.path[len("/agreements/") :]))
            return self._send(200, found) if found else self._send(404, {"message": "none"})
        if url.path == "/agreements":
            query = parse_qs(url.query)
            after, limit = query.get("after", [""])[0], int(query["limit"][0])
            refs = sorted(ref for ref in AGREEMENTS if ref > after)
            page = refs[:limit]
            more = len(refs) > limit
            return self._send(
                200,
                {
                    "agreements": [AGREEMENTS[ref] for ref in page],
                    "next_after": page[-1] if more else None,
                },
            )
        return self._send(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/agreements/query":
            found = [AGREEMENTS[r] for r in body["mandate_references"] if r in AGREEMENTS]
            return self._send(200, {"agreements": found})
        return self._send(404, {})


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield HttpGateway(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout_seconds=2)
    Handler.broken = False
    server.shutdown()
    server.server_close()


def test_it_reads_one_agreement_or_none(gateway):
    record = gateway.get_agreement(mandate_reference="MD007")
    assert record.agreement_token == "tok-7" and record.revoked
    assert record.credential_version == 2
    assert gateway.get_agreement(mandate_reference="MD999") is None


def test_it_asks_for_a_chunk_of_references_at_once(gateway):
    page = gateway.list_agreements(mandate_references=["MD001", "MD002", "MD999"])
    assert [a.mandate_reference for a in page.agreements] == ["MD001", "MD002"]
    assert page.next_after is None


def test_it_walks_every_agreement_page_by_page(gateway):
    seen, after = [], ""
    while True:
        page = gateway.list_agreements(after=after, limit=10)
        seen += [a.mandate_reference for a in page.agreements]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(AGREEMENTS)


def test_a_chunk_larger_than_the_network_accepts_is_refused_before_sending(gateway):
    with pytest.raises(ValueError):
        gateway.list_agreements(mandate_references=["x"] * (MAX_AGREEMENTS_PER_QUERY + 1))


def test_an_unreadable_answer_is_the_network_unavailable(gateway):
    Handler.broken = True
    with pytest.raises(GatewayUnavailable):
        gateway.get_agreement(mandate_reference="MD001")

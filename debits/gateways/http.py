"""``PaymentGateway`` over HTTP/JSON, for a real core-banking or payment API.

The wire contract (JSON both ways, amounts in integer minor units):

- ``POST /agreements/bind`` {mandate_reference, card_reference, account_fingerprint,
  credential_version} -> 200 {mandate_reference, agreement_token, credential_version}
- ``POST /cards/credential-changes`` {card_reference, credential_version}
  -> 200 or 204 (idempotent: a repeated or older notice changes nothing)
- ``POST /collections`` {idempotency_key, mandate_reference, agreement_token,
  amount_minor, currency} with an ``Idempotency-Key`` header
  -> 200 {idempotency_key, outcome, gateway_reference, message}; 409 when the key
  was used with other parameters
- ``POST /collections/batch`` {items: [collection, ...]} (at most
  ``MAX_COLLECTIONS_PER_BATCH``) -> 200 {results: [{idempotency_key, outcome,
  gateway_reference, message}, ...]}, one per item in the same order; an item the
  network could not answer has outcome ``timeout`` (unknown), ``gateway_unavailable``
  (not carried out) or ``idempotency_conflict``
- ``GET /collections/<idempotency_key>`` -> 200 as above, 404 if never seen
- ``POST /collections/status`` {idempotency_keys: [...]} -> 200 {results: [{...,
  found}, ...]} in the same order, ``found`` false for a key never seen
- ``GET /agreements/<mandate_reference>`` -> 200 {mandate_reference,
  agreement_token, credential_version, revoked}, 404 if the network holds none
- ``POST /agreements/query`` {mandate_references} -> 200 {agreements: [...]} (those
  it holds), or ``GET /agreements?after=<reference>&limit=<n>`` -> 200
  {agreements: [...], next_after} to walk all of them in reference order

Errors map onto the interface: no answer in time is ``GatewayTimeout``
(outcome unknown; for a batch, of every item in it), a 5xx or a refused
connection is ``GatewayUnavailable`` (nothing carried out). Standard library
only: one dependency less on the path that moves money.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings

from debits.gateways.base import (
    MAX_AGREEMENTS_PER_QUERY,
    MAX_COLLECTIONS_PER_BATCH,
    AgreementBinding,
    AgreementPage,
    AgreementRecord,
    CollectionRequest,
    CollectionResult,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    check_amount_minor,
    check_batch,
)


class HttpGateway:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout_seconds: float | None = None,
        api_key: str | None = None,
    ):
        self.base_url = (base_url or settings.PAYMENT_GATEWAY_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise GatewayError("PAYMENT_GATEWAY_URL must be an http(s) URL")
        self.timeout = (
            settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
        )
        self.api_key = settings.PAYMENT_GATEWAY_API_KEY if api_key is None else api_key

    def bind_agreement(
        self,
        *,
        mandate_reference: str,
        card_reference: str,
        account_fingerprint: str,
        credential_version: int,
    ) -> AgreementBinding:
        status, body = self._call(
            "POST",
            "/agreements/bind",
            {
                "mandate_reference": mandate_reference,
                "card_reference": card_reference,
                "account_fingerprint": account_fingerprint,
                "credential_version": credential_version,
            },
        )
        if status != 200:
            raise GatewayError(f"agreement binding refused ({status}): {_message(body)}")
        try:
            return AgreementBinding(
                mandate_reference=str(body["mandate_reference"]),
                agreement_token=str(body["agreement_token"]),
                credential_version=int(body["credential_version"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            # Binding is idempotent: an unreadable answer is safe to treat as "try again".
            raise GatewayUnavailable(f"malformed binding answer: {exc}") from exc

    def notify_credential_change(self, *, card_reference: str, credential_version: int) -> None:
        status, body = self._call(
            "POST",
            "/cards/credential-changes",
            {"card_reference": card_reference, "credential_version": credential_version},
        )
        if status not in (200, 202, 204):
            raise GatewayError(f"credential-change notice refused ({status}): {_message(body)}")

    def collect(
        self,
        *,
        idempotency_key: str,
        mandate_reference: str,
        agreement_token: str,
        amount_minor: int,
        currency: str = "CNY",
    ) -> CollectionResult:
        check_amount_minor(amount_minor)
        status, body = self._call(
            "POST",
            "/collections",
            {
                "idempotency_key": idempotency_key,
                "mandate_reference": mandate_reference,
                "agreement_token": agreement_token,
                "amount_minor": amount_minor,
                "currency": currency,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        if status == 409:
            raise IdempotencyConflict(_message(body) or "idempotency key reused")
        if status != 200:
            raise GatewayError(f"collect refused ({status}): {_message(body)}")
        try:
            return _collection(body, idempotency_key)
        except (KeyError, TypeError, ValueError) as exc:
            # The request reached the network and may have been carried out: unknown.
            raise GatewayTimeout(f"unreadable collect answer: {exc}") from exc

    def get_status(self, *, idempotency_key: str) -> CollectionResult:
        path = "/collections/" + urllib.parse.quote(idempotency_key, safe="")
        status, body = self._call("GET", path)
        if status == 404:
            return CollectionResult(idempotency_key=idempotency_key, outcome="", found=False)
        if status != 200:
            raise GatewayError(f"status query refused ({status}): {_message(body)}")
        try:
            return _collection(body, idempotency_key)
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayUnavailable(f"unreadable status answer: {exc}") from exc

    def collect_batch(self, items: list[CollectionRequest]) -> list[CollectionResult]:
        """One POST for the whole batch. No answer in time, or one we cannot read,
        raises ``GatewayTimeout``: every item's outcome is unknown, for the janitor."""
        check_batch(items)
        for item in items:
            check_amount_minor(item.amount_minor)
        status, body = self._call(
            "POST",
            "/collections/batch",
            {
                "items": [
                    {
                        "idempotency_key": item.idempotency_key,
                        "mandate_reference": item.mandate_reference,
                        "agreement_token": item.agreement_token,
                        "amount_minor": item.amount_minor,
                        "currency": item.currency,
                    }
                    for item in items
                ]
            },
        )
        if status != 200:
            raise GatewayError(f"batch collect refused ({status}): {_message(body)}")
        try:
            return _results_in_order(body, [item.idempotency_key for item in items])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The batch reached the network and may have been carried out: unknown.
            raise GatewayTimeout(f"unreadable batch answer: {exc}") from exc

    def get_status_batch(self, idempotency_keys: list[str]) -> list[CollectionResult]:
        keys = list(idempotency_keys)
        check_batch(keys)
        status, body = self._call("POST", "/collections/status", {"idempotency_keys": keys})
        if status != 200:
            raise GatewayError(f"status query refused ({status}): {_message(body)}")
        try:
            return _results_in_order(body, keys, statuses=True)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayUnavailable(f"unreadable status answer: {exc}") from exc

    def get_agreement(self, *, mandate_reference: str) -> AgreementRecord | None:
        path = "/agreements/" + urllib.parse.quote(mandate_reference, safe="")
        status, body = self._call("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise GatewayError(f"agreement query refused ({status}): {_message(body)}")
        try:
            return _agreement(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayUnavailable(f"unreadable agreement answer: {exc}") from exc

    def list_agreements(
        self,
        *,
        mandate_references: list[str] | None = None,
        after: str = "",
        limit: int = MAX_AGREEMENTS_PER_QUERY,
    ) -> AgreementPage:
        limit = max(1, min(limit, MAX_AGREEMENTS_PER_QUERY))
        if mandate_references is not None:
            if len(mandate_references) > MAX_AGREEMENTS_PER_QUERY:
                raise ValueError(f"at most {MAX_AGREEMENTS_PER_QUERY} references per query")
            status, body = self._call(
                "POST", "/agreements/query", {"mandate_references": list(mandate_references)}
            )
        else:
            query = urllib.parse.urlencode({"after": after, "limit": limit})
            status, body = self._call("GET", f"/agreements?{query}")
        if status != 200:
            raise GatewayError(f"agreement listing refused ({status}): {_message(body)}")
        try:
            agreements = [_agreement(item) for item in body["agreements"]]
            next_after = body.get("next_after") if mandate_references is None else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayUnavailable(f"unreadable agreement listing: {exc}") from exc
        return AgreementPage(agreements=agreements, next_after=next_after or None)

    # --- transport -----------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path, data=data, method=method
        )
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            # bandit B310 does not apply: the URL is the configured gateway, scheme checked above.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 # nosec B310
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            body = _json(exc.read())
            if exc.code >= 500:
                raise GatewayUnavailable(f"gateway answered {exc.code}: {_message(body)}") from exc
            return exc.code, body
        except TimeoutError as exc:
            raise GatewayTimeout(f"no answer within {self.timeout} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise GatewayTimeout(f"no answer within {self.timeout} s") from exc
            raise GatewayUnavailable(f"gateway unreachable: {exc.reason}") from exc
        except (ConnectionError, OSError) as exc:
            # Reset mid-answer: the request may have been carried out.
            raise GatewayTimeout(f"connection lost: {exc}") from exc


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:200]
    return ""


def _collection(body: Any, idempotency_key: str) -> CollectionResult:
    outcome = str(body["outcome"])
    if not outcome:
        raise ValueError("empty outcome")
    return CollectionResult(
        idempotency_key=str(body.get("idempotency_key") or idempotency_key),
        outcome=outcome,
        gateway_reference=str(body.get("gateway_reference") or ""),
        message=str(body.get("message") or ""),
    )


def _results_in_order(
    body: Any, keys: list[str], *, statuses: bool = False
) -> list[CollectionResult]:
    """Per-item results, which must answer exactly these keys in this order."""
    results = body["results"]
    if len(results) != len(keys) or len(keys) > MAX_COLLECTIONS_PER_BATCH:
        raise ValueError(f"{len(results)} results for {len(keys)} items")
    answered = []
    for key, item in zip(keys, results, strict=True):
        if str(item.get("idempotency_key") or "") != key:
            raise ValueError(f"result for {item.get('idempotency_key')!r} where {key!r} was asked")
        if statuses and not item.get("found", True):
            answered.append(CollectionResult(idempotency_key=key, outcome="", found=False))
        else:
            answered.append(_collection(item, key))
    return answered


def _agreement(body: Any) -> AgreementRecord:
    return AgreementRecord(
        mandate_reference=str(body["mandate_reference"]),
        agreement_token=str(body["agreement_token"]),
        credential_version=int(body["credential_version"]),
        revoked=bool(body.get("revoked", False)),
    )

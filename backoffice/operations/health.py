"""/healthz, /readyz and /metrics: for load balancers and Prometheus, not for people.

They need no staff sign-in, so each answers only a caller from
``HEALTH_ALLOWED_NETWORKS`` or one presenting ``Authorization: Bearer
<HEALTH_TOKEN>``; anyone else gets a 403 with nothing in it.
"""

import hmac
import ipaddress
import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from kombu.exceptions import ChannelError, OperationalError

from debits.operations_selectors import beat_last_seen, worker_heartbeats

logger = logging.getLogger(__name__)

# A probe must answer fast even when the broker hangs: a load balancer times out
# after a few seconds and would mark the instance down for the wrong reason.
BROKER_TIMEOUT_SECONDS = 2


def _caller_is_allowed(request) -> bool:
    token = settings.HEALTH_TOKEN
    if token:
        presented = request.headers.get("Authorization", "")
        if hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.HEALTH_ALLOWED_NETWORKS
    )


def internal_only(view: Callable) -> Callable:
    """Refuse callers outside the allow-list that present no token."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _caller_is_allowed(request):
            return HttpResponse(status=403)
        return view(request, *args, **kwargs)

    wrapped.internal_only = True
    return wrapped


def served_queues() -> list[str]:
    return [
        settings.CELERY_TASK_DEFAULT_QUEUE,
        settings.CELERY_QUEUE_RESYNC,
        settings.CELERY_QUEUE_DEBITS,
    ]


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def check_broker() -> dict:
    """Reach the broker and read each queue's depth (messages waiting)."""
    depths = {}
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            channel = broker.default_channel
            for queue in served_queues():
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except ChannelError:
                    # Redis drops an empty queue's key: nothing waiting.
                    depths[queue] = 0
    except (OperationalError, OSError) as exc:
        return {"ok": False, "error": type(exc).__name__}
    deep = {queue: n for queue, n in depths.items() if n > settings.READYZ_MAX_QUEUE_DEPTH}
    result = {"ok": not deep, "queue_depths": depths}
    if deep:
        result["error"] = f"more than {settings.READYZ_MAX_QUEUE_DEPTH} messages waiting"
    return result


def _age_seconds(moment) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 1)


def check_workers(heartbeats: dict) -> dict:
    ages = {queue: _age_seconds(heartbeats.get(queue)) for queue in served_queues()}
    limit = settings.READYZ_WORKER_STALE_AFTER_SECONDS
    silent = [queue for queue, age in ages.items() if age is None or age > limit]
    result = {"ok": not silent, "heartbeat_age_seconds": ages}
    if silent:
        result["error"] = f"no worker heard from in {limit} s on: {', '.join(silent)}"
    return result


def check_beat(last_seen) -> dict:
    age = _age_seconds(last_seen)
    limit = settings.READYZ_BEAT_STALE_AFTER_SECONDS
    ok = age is not None and age <= limit
    result = {"ok": ok, "last_run_age_seconds": age}
    if not ok:
        result["error"] = f"beat has sent nothing in {limit} s"
    return result


def readiness() -> dict:
    checks = {"database": check_database()}
    if checks["database"]["ok"]:
        try:
            checks["worker"] = check_workers(worker_heartbeats())
            checks["beat"] = check_beat(beat_last_seen())
        except DatabaseError as exc:
            checks["worker"] = checks["beat"] = {"ok": False, "error": type(exc).__name__}
    else:
        checks["worker"] = checks["beat"] = {"ok": False, "error": "database unavailable"}
    checks["broker"] = check_broker()
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "fail", "checks": checks}


@require_GET
@never_cache
@internal_only
def healthz(request):
    """Liveness: the process answers. Touches nothing else, so a database outage
    does not make the orchestrator restart every web process at once."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
@internal_only
def readyz(request):
    """Readiness: 200 when this instance can do its work, 503 (with what failed) when not."""
    result = readiness()
    return JsonResponse(result, status=200 if result["status"] == "ok" else 503)

"""/healthz, /readyz and /metrics: what a load balancer and Prometheus read."""

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from debits.models import Alert, WorkerHeartbeat
from debits.services import raise_alert, record_worker_heartbeat
from debits.services.operations import take_operations_snapshot

pytestmark = pytest.mark.django_db

QUEUES = ("default", "resync", "debits")


def all_workers_and_beat_fresh():
    for queue in QUEUES:
        record_worker_heartbeat(queue=queue, hostname="worker@test")
    PeriodicTask.objects.filter(enabled=True).update(last_run_at=timezone.now())


def test_liveness_answers_ok_from_the_allow_list(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_caller_outside_the_allow_list_gets_nothing():
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    for path in ("/healthz", "/readyz", "/metrics"):
        response = outsider.get(path)
        assert response.status_code == 403 and response.content == b""


def test_a_caller_outside_the_allow_list_with_the_token_is_answered(settings):
    settings.HEALTH_TOKEN = "scrape-token-for-tests"
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-for-tests")
    assert response.status_code == 200


def test_ready_when_database_broker_workers_and_beat_all_answer(client):
    all_workers_and_beat_fresh()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker", "beat"}
    assert set(body["checks"]["broker"]["queue_depths"]) == set(QUEUES)


def test_not_ready_when_no_worker_serves_a_queue(client):
    all_workers_and_beat_fresh()
    WorkerHeartbeat.objects.filter(queue="debits").update(
        beat_at=timezone.now() - timezone.timedelta(minutes=10)
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    worker = response.json()["checks"]["worker"]
    assert not worker["ok"] and "debits" in worker["error"]


def test_not_ready_when_beat_sends_nothing(client):
    all_workers_and_beat_fresh()
    PeriodicTask.objects.update(last_run_at=timezone.now() - timezone.timedelta(hours=1))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert not response.json()["checks"]["beat"]["ok"]


def test_not_ready_when_the_broker_is_unreachable(client, settings):
    all_workers_and_beat_fresh()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert not response.json()["checks"]["broker"]["ok"]


def test_metrics_are_in_prometheus_text_format(client):
    from prometheus_client.parser import text_string_to_metric_families

    raise_alert(kind=Alert.Kind.OUTBOX_STUCK, dedup_key="outbox:1", message="Stuck")
    take_operations_snapshot()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    for name in (
        "backoffice_debit_runs",
        "backoffice_debit_attempts_last_24h",
        "backoffice_resync_lag_seconds",
        "backoffice_mandates_out_of_sync",
        "backoffice_mandates_out_of_sync_recent",
        "backoffice_mandates_out_of_sync_snapshot_timestamp_seconds",
        "backoffice_outbox_backlog",
        "backoffice_open_alerts",
    ):
        assert name in families, name
    open_alerts = {
        (s.labels["kind"], s.labels["severity"]): s.value
        for s in families["backoffice_open_alerts"].samples
    }
    assert open_alerts[("outbox_stuck", "warning")] == 1
    assert families["backoffice_resync_lag_seconds"].type == "histogram"


def test_before_the_first_snapshot_metrics_leave_the_whole_book_figure_out_rather_than_say_0(
    client,
):
    from prometheus_client.parser import text_string_to_metric_families

    page = client.get("/metrics").content.decode()

    names = {f.name for f in text_string_to_metric_families(page)}
    assert "backoffice_mandates_out_of_sync" not in names
    assert "backoffice_mandates_out_of_sync_recent" in names

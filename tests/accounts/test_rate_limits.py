"""Rate limits on the customer's reset pages and on card password verification."""

import uuid

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from accounts.models import AuditEvent
from accounts.rate_limits import (
    CARD_PASSWORD_VERIFICATION,
    RESET_LINK_PAGE,
    RateLimit,
    RateLimited,
)
from accounts.services import VerificationRateLimited, verify_card_password
from tests.conftest import CONFIGURED_CACHES, redis_broker_url
from tests.factories import CardCredentialFactory


def test_a_fixed_window_allows_the_limit_then_refuses_until_the_next_window():
    limit = RateLimit("test", limit=3, window_seconds=60)
    start = 1_800_000_000.0  # the start of a window (a multiple of 60)
    for n in range(1, 4):
        assert limit.hit("subject", now=start + n) == n
    with pytest.raises(RateLimited) as refused:
        limit.hit("subject", now=start + 10)
    assert refused.value.retry_after == 50
    assert limit.hit("other subject", now=start + 10) == 1
    assert limit.hit("subject", now=start + 61) == 1


@pytest.mark.django_db
def test_the_reset_link_page_refuses_a_source_that_keeps_trying():
    scanner = Client(REMOTE_ADDR="203.0.113.9", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(RESET_LINK_PAGE.limit):
        assert scanner.get(f"/reset/{uuid.uuid4().hex}/").status_code == 302
    refused = scanner.get(f"/reset/{uuid.uuid4().hex}/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert b"Too many attempts" in refused.content
    # Another customer is not affected.
    assert (
        Client(REMOTE_ADDR="198.51.100.7", HTTP_ACCEPT_LANGUAGE="en").get("/reset/abc/").status_code
        == 302
    )


@pytest.mark.django_db
def test_submitting_the_reset_form_is_limited_too():
    client = Client(REMOTE_ADDR="203.0.113.10", HTTP_ACCEPT_LANGUAGE="en")
    statuses = [
        client.post("/reset/", {"password": "1", "confirmation": "1"}).status_code
        for _ in range(RESET_LINK_PAGE.limit + 1)
    ]
    assert statuses[-1] == 429
    assert 429 not in statuses[:-1]


@pytest.mark.django_db
def test_card_password_verification_is_limited_per_card_and_audited():
    credential = CardCredentialFactory()
    other = CardCredentialFactory()
    # Right password each time: the limit counts checks, not only failures.
    for _ in range(CARD_PASSWORD_VERIFICATION.limit):
        assert verify_card_password(card=credential.card, password="480135").matched
    with pytest.raises(VerificationRateLimited):
        verify_card_password(card=credential.card, password="480135")
    assert AuditEvent.objects.filter(
        action="card.password_verification_refused", summary__reason="rate_limited"
    ).exists()
    assert verify_card_password(card=other.card, password="480135").matched


def test_the_configured_cache_is_shared_between_processes():
    backend = CONFIGURED_CACHES["default"]["BACKEND"]
    assert backend in {
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.db.DatabaseCache",
    }
    if redis_broker_url():
        assert backend.endswith("RedisCache")


def test_the_limiter_counts_in_redis_when_there_is_one(settings):
    url = redis_broker_url()
    if not url:
        pytest.skip("no Redis configured: the database cache is used")
    settings.CACHES = {"default": dict(CONFIGURED_CACHES["default"])}
    from django.core.cache import caches

    assert isinstance(caches["default"], RedisCache)
    limit = RateLimit(f"test-{uuid.uuid4().hex}", limit=2, window_seconds=60)
    limit.hit("x")
    limit.hit("x")
    with pytest.raises(RateLimited):
        limit.hit("x")
    limit.reset("x")

"""Fixed-window rate limits kept in Django's cache (Redis, or the database cache).

A window is ``window_seconds`` long and starts at a multiple of it; each hit
adds one to the window's counter and the hit that goes over ``limit`` is
refused until the next window. Fixed windows allow up to twice the limit
across a boundary, which is fine for slowing guessing down; the hard stops
are the card password's failure lock and django-axes.

The cache must be shared by every web process (see CACHES in settings), or
each process would keep its own count.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import wraps

from django.core.cache import cache
from django.shortcuts import render


class RateLimited(Exception):
    def __init__(self, limit: RateLimit, retry_after: int):
        super().__init__(f"Too many attempts; try again in {retry_after} seconds.")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimit:
    name: str
    limit: int
    window_seconds: int

    def _cache_key(self, subject: str, window: int) -> str:
        # Subjects may be IP addresses or card ids: only a digest goes into the cache.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"ratelimit:{self.name}:{window}:{digest}"

    def hit(self, subject: str, *, now: float | None = None) -> int:
        """Count one attempt by ``subject``; raises RateLimited over the limit."""
        now = time.time() if now is None else now
        window = int(now // self.window_seconds)
        key = self._cache_key(subject, window)
        # add() is atomic: only the first hit of a window creates the counter.
        if cache.add(key, 1, timeout=self.window_seconds + 1):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=self.window_seconds + 1)
                count = 1
        if count > self.limit:
            retry_after = math.ceil((window + 1) * self.window_seconds - now)
            raise RateLimited(self, max(retry_after, 1))
        return count

    def reset(self, subject: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        cache.delete(self._cache_key(subject, int(now // self.window_seconds)))


# A customer opens a reset link once or twice; 10 a minute per source is plenty
# and makes scanning for live tokens pointless.
RESET_LINK_PAGE = RateLimit("reset-link-page", limit=10, window_seconds=60)
# Each verification costs an argon2 hash (~50 ms, 32 MiB): 10 a minute per card
# stops both guessing and a CPU/memory exhaustion through this path.
CARD_PASSWORD_VERIFICATION = RateLimit("card-password-verification", limit=10, window_seconds=60)


def limit_by_client_address(rate_limit: RateLimit, *, methods: tuple[str, ...] = ()):
    """View decorator: ``rate_limit`` per client address (all methods, or only ``methods``).

    REMOTE_ADDR must be the client's address: behind a proxy, the proxy (or
    gunicorn's --forwarded-allow-ips) must set it, never a header a client sends.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not methods or request.method in methods:
                try:
                    rate_limit.hit(f"ip:{request.META.get('REMOTE_ADDR', '')}")
                except RateLimited as limited:
                    response = render(
                        request,
                        "accounts/rate_limited.html",
                        {"retry_after": limited.retry_after},
                        status=429,
                    )
                    response["Retry-After"] = str(limited.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

"""The gateway thread pool: many calls to the payment network in flight at once.

A chunk presents hundreds of collects and the janitor asks about hundreds of
keys; one call at a time at 20 ms latency cannot pass 50 a second. This module
knows threads and database connections, not the domain: it imports no model.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection, connections


def _gateway_concurrency(items: int) -> int:
    # Threads need their own connections and must see committed rows: inside an
    # open transaction (a test's) or on SQLite (one writer anyway) stay on this one.
    if connection.vendor == "sqlite" or connection.in_atomic_block:
        return 1
    return max(1, min(settings.DEBIT_GATEWAY_CONCURRENCY, items))


def call_in_flight(items: list, call) -> dict[int, object]:
    """Run ``call`` on every item with many gateway calls in flight at once."""
    results: dict[int, object] = {}
    workers = _gateway_concurrency(len(items))
    if workers == 1:
        for index, item in enumerate(items):
            results[index] = call(item)
        return results
    feed = iter(enumerate(items))
    lock = threading.Lock()

    def drain():
        # Each thread has its own database connection (the simulator writes
        # through it); one broken or past CONN_MAX_AGE is replaced here.
        close_old_connections()
        try:
            while True:
                with lock:
                    nxt = next(feed, None)
                if nxt is None:
                    return
                results[nxt[0]] = call(nxt[1])
        finally:
            if _keep_gateway_connections:
                close_old_connections()
            else:
                connections.close_all()

    pool = _gateway_threads(settings.DEBIT_GATEWAY_CONCURRENCY)
    for future in [pool.submit(drain) for _ in range(workers)]:
        future.result()
    return results


_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None
# Set in worker processes only: they live long enough for kept connections to pay,
# and nobody drops their database under them (a test run's teardown would be
# refused while idle gateway threads held connections).
_keep_gateway_connections = False


def keep_gateway_connections() -> None:
    """Let this process's gateway threads keep their database connections between batches."""
    global _keep_gateway_connections
    _keep_gateway_connections = True


def _gateway_threads(size: int) -> ThreadPoolExecutor:
    """The process's gateway threads, kept from chunk to chunk.

    Threads made per chunk each opened a database connection and closed it at
    the end: sixteen connects (about 4 ms each here, and a server process each)
    for every 500 instalments. In a worker process kept threads keep their
    connections for CONN_MAX_AGE. Made afresh in a forked child, or when the size changes.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[:2] != (os.getpid(), size):
            if _pool is not None and _pool[0] == os.getpid():
                _pool[2].shutdown(wait=False)
            _pool = (
                os.getpid(),
                size,
                ThreadPoolExecutor(max_workers=size, thread_name_prefix="gateway"),
            )
        return _pool[2]

"""Counting requests and sequential round trips by hooking botocore's event system.

A handler on ``before-send`` sees every HTTP attempt a botocore/aiobotocore client makes (retries
included); ``needs-retry`` fires when that attempt's response (or error) is back. Between the two
the request is *in flight*.

Definitions used in every table:

* **requests** = number of ``before-send`` events, i.e. HTTP requests actually sent.
* **round trips** = number of times a request is sent while no other request of the same
  operation is in flight. Requests issued concurrently (``asyncio.gather``) overlap and count as
  one round trip; a request that has to wait for the answer of an earlier one starts a new one.
  It is the number of sequential network latencies the operation pays, so on a real S3 at
  ~20-50 ms per request it is what dominates latency.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestCounter:
    """Counts HTTP attempts and sequential round trips across one or more clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.requests = 0
        self.round_trips = 0
        self.by_operation: Counter[str] = Counter()

    def reset(self) -> None:
        """Start a new operation. In-flight is cleared too: a request cancelled mid-flight (a
        consumer that stops iterating early) never fires needs-retry and would otherwise stay
        counted as in flight forever."""
        with self._lock:
            self.in_flight = 0
            self.requests = 0
            self.round_trips = 0
            self.by_operation = Counter()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "round_trips": self.round_trips,
                "ops": dict(self.by_operation),
            }

    # botocore handlers: they must return None (a non-None before-send result would be taken
    # as the HTTP response).
    def _on_send(self, event_name: str = "", **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        with self._lock:
            if self.in_flight == 0:
                self.round_trips += 1
            self.in_flight += 1
            self.requests += 1
            self.by_operation[op] += 1

    def _on_done(self, **_: Any) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)

    def attach(self, client: Any) -> Any:
        """Hook a boto3/botocore/aiobotocore client; returns it for chaining."""
        events = client.meta.events
        events.register_last("before-send", self._on_send, unique_id=f"bench-send-{id(self)}")
        events.register_last("needs-retry", self._on_done, unique_id=f"bench-done-{id(self)}")
        return client

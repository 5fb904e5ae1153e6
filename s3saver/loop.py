"""A private event loop on a daemon thread, for running the async store from sync code.

Sync callers (plain scripts, LangGraph's worker threads) submit coroutines here and block on the
result. Keeping one long-lived loop means one long-lived S3 client and connection pool, instead
of a new client per call, and it survives ``asyncio.run`` loops coming and going around it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """Starts on first use; thread-safe; refuses re-entrant calls that would deadlock."""

    def __init__(
        self,
        name: str = "s3saver-loop",
        on_stop: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._name = name
        self._on_stop = on_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._registered = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                if not self._registered:
                    # Close the client politely at interpreter exit (no "Unclosed" warnings).
                    atexit.register(self.stop)
                    self._registered = True
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop thread and wait for its result."""
        loop = self.loop
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("s3saver: a sync method was called from its own loop thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that runs on the loop thread, from any other event loop."""
        loop = self.loop
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def stop(self) -> None:
        """Run the on_stop clean-up on the loop, then stop and close it (idempotent)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            if self._on_stop is not None and thread.is_alive():
                future = asyncio.run_coroutine_threadsafe(self._on_stop(), loop)
                with contextlib.suppress(Exception):  # clean-up is best effort at shutdown
                    future.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()

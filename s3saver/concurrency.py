"""Small asyncio helpers for issuing independent requests in one round trip."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
B = TypeVar("B")


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    """Run together; if one fails, cancel the rest and raise the first error.

    ``asyncio.gather`` leaves siblings running after an error, which would let requests of a
    failed operation land after the caller has already been told it failed.
    """
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def gather_pair(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two differently typed requests in one round trip, with gather_all's error handling."""
    a, b = await gather_all(first, second)
    return a, b  # type: ignore[return-value]


async def settle_all(*aws: Awaitable[T]) -> list[T | BaseException]:
    """Run together and wait for every one, returning results and errors in order."""
    return list(await asyncio.gather(*aws, return_exceptions=True))


async def ordered_map(
    items: AsyncIterator[T],
    fetch: Callable[[T], Awaitable[R]],
    *,
    concurrency: int,
    wanted: int | None = None,
) -> AsyncIterator[R]:
    """``fetch`` each item as soon as it is known, up to ``concurrency`` at once, yielding
    results in input order. Listing the next page overlaps with fetching the previous one.

    With ``wanted``, no more fetches are started than could still be needed: results that are
    not None count as delivered, so a caller asking for ``limit`` results never pays for a
    speculative extra request (None results, e.g. a vanished object, make room for more).
    """
    window: deque[asyncio.Task[R]] = deque()
    delivered = 0
    try:
        async for item in items:
            while wanted is not None and window and delivered + len(window) >= wanted:
                result = await window.popleft()
                delivered += result is not None
                yield result
            if wanted is not None and delivered >= wanted:
                return
            window.append(asyncio.ensure_future(fetch(item)))
            while window and (window[0].done() or len(window) >= concurrency):
                result = await window.popleft()
                delivered += result is not None
                yield result
        while window:
            yield await window.popleft()
    finally:
        for task in window:
            task.cancel()
        if window:
            await asyncio.gather(*window, return_exceptions=True)

"""Conditional writes: how s3saver writes an object without blindly overwriting another's.

Every object is created with ``If-None-Match: *``. A 412/409 is not taken at its word: the
object is re-read, because a create whose response was lost and whose retry then failed looks
exactly like a conflict (docs/design.md, "Writes under concurrency and faults"). Each kind of
object then decides from what it finds:

* checkpoint: a writer nonce in its metadata tells "my write landed" from "the id exists", and
  an existing id is replaced under ``If-Match`` (the contract: a put of an existing id replaces);
* pending writes: merged with LangGraph's rule and written back under ``If-Match``;
* index entries (see :mod:`s3saver.index`) and markers: first writer wins.

A lost ``If-Match`` race loops, a bounded number of times, then raises ``ConflictError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from typing import Any

from . import codec
from .errors import ConflictError, CorruptObject, StorageError
from .records import merge_writes
from .transport import PreconditionFailed, StoredObject, Transport

MAX_CAS_ATTEMPTS = 8


async def backoff(attempt: int) -> None:
    """Jittered exponential pause before the next compare-and-swap round (≤ ~0.6 s in all):
    without it, writers that lost a race collide again on the very next round."""
    if attempt:
        await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))


def conflict(transport: Transport, key: str, what: str) -> ConflictError:
    return ConflictError(
        f"concurrent writers kept changing {what}",
        bucket=transport.bucket,
        operation="PutObject",
        key=key,
    )


async def write_checkpoint(
    transport: Transport, key: str, body: bytes, *, conditional: bool
) -> str:
    """Create or replace a checkpoint object; returns "created", "replaced" or "written"."""
    if not conditional:
        await transport.put(key, body)
        return "written"
    meta = {"writer": uuid.uuid4().hex}
    try:
        await transport.put(key, body, if_none_match=True, metadata=meta)
        return "created"
    except PreconditionFailed:
        pass
    except StorageError:
        # Timeout or reset after the request was sent: it may have landed. Look before failing.
        with contextlib.suppress(StorageError):
            current = await transport.get(key)
            if current is not None and current.metadata.get("writer") == meta["writer"]:
                return "created"
        raise
    outcome = "created"
    for attempt in range(MAX_CAS_ATTEMPTS):
        await backoff(attempt)
        current = await transport.get(key)
        try:
            if current is None:
                outcome = "created"
                await transport.put(key, body, if_none_match=True, metadata=meta)
                return outcome
            if current.metadata.get("writer") == meta["writer"]:
                return outcome  # an earlier attempt of this very call landed
            outcome = "replaced"
            await transport.put(key, body, if_match=current.etag, metadata=meta)
            return outcome
        except PreconditionFailed:
            continue
    raise conflict(transport, key, "this checkpoint")


async def write_marker(transport: Transport, key: str, body: bytes, *, conditional: bool) -> None:
    """Markers carry no state beyond their existence: one already there is fine."""
    with contextlib.suppress(PreconditionFailed):
        await transport.put(key, body, if_none_match=conditional)


async def write_pending(
    transport: Transport,
    key: str,
    body: bytes,
    merge: Callable[[StoredObject], bytes],
    *,
    conditional: bool,
) -> None:
    """Store one task's pending writes, merging with what an earlier call of the task stored."""
    if not conditional:
        current = await transport.get(key)
        await transport.put(key, body if current is None else merge(current))
        return
    try:
        await transport.put(key, body, if_none_match=True)
        return
    except PreconditionFailed:
        pass
    for attempt in range(MAX_CAS_ATTEMPTS):
        await backoff(attempt)
        current = await transport.get(key)
        try:
            if current is None:
                await transport.put(key, body, if_none_match=True)
                return
            merged = merge(current)
            if merged == current.body:
                return  # nothing new (or our own retried write already landed)
            await transport.put(key, merged, if_match=current.etag)
            return
        except PreconditionFailed:
            continue
    raise conflict(transport, key, "these pending writes")


def merged_pending(
    key: str,
    current: StoredObject,
    task_id: str,
    task_path: str,
    writes: list[tuple[int, str, Any]],
) -> bytes:
    """The writes object after adding ``writes`` to the stored one (LangGraph's merge rule)."""
    try:
        old = codec.decode("writes", key, current.body, codec.WRITES_FIELDS)
        existing = {int(i): (str(c), v) for i, c, v in old["writes"]}
    except (CorruptObject, TypeError, ValueError):
        existing = {}  # a damaged object is replaced by what this call knows
    merged = merge_writes(existing, writes)
    ordered = [[i, c, v] for i, (c, v) in sorted(merged.items())]
    return codec.encode(
        "writes",
        {"task_id": task_id, "task_path": task_path, "writes": ordered},
        what=f"pending writes of task {task_id!r}",
    )

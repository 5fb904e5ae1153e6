"""Checkpoint ids and their time order.

The bucket layout orders a thread's objects newest first by a fixed-width key component. For
time-ordered ids that component is computed from the id alone (so a key can be found from an id
without a lookup, and key order equals id order); for any other id it comes from the put time.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

# 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH_OFFSET = 0x01B21DD213814000
_LOW64 = (1 << 64) - 1

_lock = threading.Lock()
_last_ticks = 0


def now_ticks() -> int:
    """Current time in 100-ns ticks since the UUID epoch, strictly increasing in this process."""
    global _last_ticks
    with _lock:
        ticks = time.time_ns() // 100 + _UUID_EPOCH_OFFSET
        if ticks <= _last_ticks:
            ticks = _last_ticks + 1
        _last_ticks = ticks
        return ticks


def new_checkpoint_id() -> str:
    """A fresh UUID version 6 (the kind LangGraph generates): its text order is its time order."""
    ticks = now_ticks()
    value = ((ticks >> 12) & ((1 << 48) - 1)) << 80
    value |= (0x6000 | (ticks & 0x0FFF)) << 64
    value |= (0x8000 | secrets.randbits(14)) << 48
    value |= secrets.randbits(48)
    return str(uuid.UUID(int=value))


def time_order_key(checkpoint_id: str) -> int | None:
    """The 128-bit sort key of a time-ordered id, or None for any other id.

    The high 64 bits are 100-ns ticks since the UUID epoch, the low 64 bits break ties the way
    the id's own text does, so for v6 and v7 ids key order is exactly text order. Only canonical
    lowercase UUID text counts: for any other spelling text order and time order differ.
    """
    if len(checkpoint_id) != 36:
        return None
    try:
        parsed = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if str(parsed) != checkpoint_id or parsed.variant != uuid.RFC_4122:
        return None
    value = parsed.int
    version = parsed.version
    if version == 6:
        ticks = ((value >> 80) << 12) | ((value >> 64) & 0x0FFF)
        tie = value & _LOW64
    elif version == 1:
        ticks = parsed.time
        tie = value & _LOW64
    elif version == 7:
        ticks = (value >> 80) * 10_000 + _UUID_EPOCH_OFFSET
        tie = (((value >> 64) & 0x0FFF) << 52) | ((value & ((1 << 62) - 1)) >> 10)
    else:
        return None
    return (ticks << 64) | tie


def put_time_order_key() -> int:
    """Sort key for an id that carries no time: the put time, ties broken by later puts."""
    return now_ticks() << 64

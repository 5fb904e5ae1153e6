"""The storage-neutral shapes every backend reads and writes.

Backends (S3, memory) deal in records of JSON values; the typed contract (:mod:`s3saver.model`)
and the LangGraph adapter are conversions on top. Keeping one record shape is what lets the
memory backend serve as the reference model for the S3 one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PendingWrite:
    task_id: str
    task_path: str
    idx: int
    channel: str
    value: Any


@dataclass
class CheckpointRecord:
    """One stored checkpoint: where it lives, its JSON body parts and its pending writes."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: Any
    metadata: dict[str, Any]
    writes: list[PendingWrite] = field(default_factory=list)


def sort_writes(writes: list[PendingWrite]) -> list[PendingWrite]:
    """LangGraph's order for pending writes: task path, then task id, then index (numerically)."""
    return sorted(writes, key=lambda w: (w.task_path, w.task_id, w.idx))


def merge_writes(
    existing: dict[int, tuple[str, Any]], new: list[tuple[int, str, Any]]
) -> dict[int, tuple[str, Any]]:
    """One task's writes after a new batch: regular writes keep the first value written for
    their index (a retried task must not change history), special writes (negative index:
    error, interrupt, resume, scheduled) replace the previous value."""
    merged = dict(existing)
    for idx, channel, value in new:
        if idx < 0 or idx not in merged:
            merged[idx] = (channel, value)
    return merged


def metadata_matches(metadata: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    """Equality on every wanted key; a missing key reads as None (LangGraph's rule)."""
    return not wanted or all(metadata.get(k) == v for k, v in wanted.items())

"""The same contract in memory: the reference model the S3 store is tested against.

It is deliberately simple (dicts and sorting) so that its behaviour is obviously the specified
one. It follows the S3 store's rules where the specification leaves a choice: newest first by
the id's time (put time for other ids), replacing an id keeps its place, ``get`` by id resolves
to the first live location of the id, and values go through the same JSON encoding so that
what cannot be stored fails the same way.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from .base import CheckpointStore
from .codec import check_encodable
from .ids import put_time_order_key, time_order_key
from .records import CheckpointRecord, PendingWrite, merge_writes, metadata_matches, sort_writes

_Loc = tuple[str, str, str]  # thread, namespace, checkpoint id


@dataclass
class _Stored:
    order: int
    parent_id: str | None
    checkpoint: bytes
    metadata: bytes


@dataclass
class _Thread:
    namespaces: dict[str, dict[str, _Stored]] = field(default_factory=dict)
    # (ns, checkpoint id, task id) -> (task path, {idx: (channel, value as JSON)})
    writes: dict[tuple[str, str, str], tuple[str, dict[int, tuple[str, bytes]]]] = field(
        default_factory=dict
    )


class MemoryCheckpointSaver(CheckpointStore):
    """Checkpoints in this process's memory; lost when it exits."""

    def __init__(self) -> None:
        self._threads: dict[str, _Thread] = {}
        self._index: dict[str, _Loc] = {}

    async def __aenter__(self) -> MemoryCheckpointSaver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    # ---- writes -------------------------------------------------------------------------
    async def put_record(self, record: CheckpointRecord) -> None:
        check_encodable(record.checkpoint, what=f"checkpoint {record.checkpoint_id!r}")
        check_encodable(record.metadata, what=f"metadata of {record.checkpoint_id!r}")
        thread = self._threads.setdefault(record.thread_id, _Thread())
        ns = thread.namespaces.setdefault(record.checkpoint_ns, {})
        previous = ns.get(record.checkpoint_id)
        order = time_order_key(record.checkpoint_id)
        if order is None:
            order = previous.order if previous is not None else put_time_order_key()
        ns[record.checkpoint_id] = _Stored(
            order,
            record.parent_id,
            orjson.dumps(record.checkpoint),
            orjson.dumps(record.metadata),
        )
        loc = (record.thread_id, record.checkpoint_ns, record.checkpoint_id)
        owner = self._index.get(record.checkpoint_id)
        if owner is None or self._lookup(owner) is None:
            self._index[record.checkpoint_id] = loc

    async def put_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        task_path: str,
        writes: builtins.list[tuple[int, str, Any]],
    ) -> None:
        if not writes:
            return
        check_encodable([list(w) for w in writes], what=f"pending writes of task {task_id!r}")
        thread = self._threads.setdefault(thread_id, _Thread())
        key = (checkpoint_ns, checkpoint_id, task_id)
        _, existing = thread.writes.get(key, (task_path, {}))
        merged = merge_writes(existing, [(i, c, orjson.dumps(v)) for i, c, v in writes])
        thread.writes[key] = (task_path, merged)

    # ---- reads ----------------------------------------------------------------------------
    def _lookup(self, loc: _Loc) -> _Stored | None:
        thread = self._threads.get(loc[0])
        if thread is None:
            return None
        return thread.namespaces.get(loc[1], {}).get(loc[2])

    def _record(self, loc: _Loc, stored: _Stored) -> CheckpointRecord:
        thread_id, ns, cid = loc
        writes: builtins.list[PendingWrite] = []
        for (wns, wcid, task_id), (path, entries) in self._threads[thread_id].writes.items():
            if wns == ns and wcid == cid:
                writes.extend(
                    PendingWrite(task_id, path, i, c, orjson.loads(v))
                    for i, (c, v) in entries.items()
                )
        return CheckpointRecord(
            thread_id=thread_id,
            checkpoint_ns=ns,
            checkpoint_id=cid,
            parent_id=stored.parent_id,
            checkpoint=orjson.loads(stored.checkpoint),
            metadata=orjson.loads(stored.metadata),
            writes=sort_writes(writes),
        )

    def _newest_first(self, thread_id: str, ns: str) -> builtins.list[tuple[_Loc, _Stored]]:
        stored = self._threads[thread_id].namespaces.get(ns, {})
        ordered = sorted(stored.items(), key=lambda kv: kv[1].order, reverse=True)
        return [((thread_id, ns, cid), s) for cid, s in ordered]

    async def get_record(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> CheckpointRecord | None:
        if thread_id not in self._threads:
            return None
        if checkpoint_id is None:
            entries = self._newest_first(thread_id, checkpoint_ns)
            return self._record(*entries[0]) if entries else None
        loc = (thread_id, checkpoint_ns, checkpoint_id)
        stored = self._lookup(loc)
        return None if stored is None else self._record(loc, stored)

    async def iter_records(
        self,
        thread_id: str | None,
        checkpoint_ns: str | None,
        *,
        before_id: str | None = None,
        limit: int | None = None,
        metadata_filter: dict[str, Any] | None = None,
    ) -> AsyncIterator[CheckpointRecord]:
        if limit is not None and limit <= 0:
            return
        before_order = None
        if before_id is not None:
            before_order = time_order_key(before_id)
            if before_order is None:
                owner = self._index.get(before_id)
                found = None if owner is None else self._lookup(owner)
                if found is None:
                    return
                before_order = found.order
        threads = sorted(self._threads) if thread_id is None else [thread_id]
        produced = 0
        for tid in threads:
            if tid not in self._threads:
                continue
            spaces = self._threads[tid].namespaces
            names = sorted(spaces) if checkpoint_ns is None else [checkpoint_ns]
            for ns in names:
                for loc, stored in self._newest_first(tid, ns):
                    if before_order is not None and stored.order >= before_order:
                        continue
                    record = self._record(loc, stored)
                    if not metadata_matches(record.metadata, metadata_filter):
                        continue
                    yield record
                    produced += 1
                    if limit is not None and produced >= limit:
                        return

    async def get_by_id(self, checkpoint_id: str) -> CheckpointRecord | None:
        loc = self._index.get(checkpoint_id)
        stored = None if loc is None else self._lookup(loc)
        return None if loc is None or stored is None else self._record(loc, stored)

    # ---- deletes ----------------------------------------------------------------------------
    async def _delete_thread(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)
        self._drop_dangling_index()

    async def _prune(self, thread_id: str, keep: int) -> int:
        thread = self._threads.get(thread_id)
        if thread is None:
            return 0
        removed = 0
        for ns in list(thread.namespaces):
            entries = self._newest_first(thread_id, ns)
            orders = [s.order for _, s in entries]
            for (_, _, cid), _stored in entries[keep:]:
                del thread.namespaces[ns][cid]
                removed += 1
            kept = thread.namespaces[ns]
            for key in [k for k in thread.writes if k[0] == ns and k[1] not in kept]:
                # Writes whose checkpoint is not stored go once `keep` newer checkpoints exist.
                order = time_order_key(key[1])
                newer = len(orders) if order is None else sum(o > order for o in orders)
                if newer >= keep:
                    del thread.writes[key]
        self._drop_dangling_index()
        return removed

    async def _delete_for_runs(self, run_ids: builtins.list[str]) -> None:
        runs = set(run_ids)
        for thread in self._threads.values():
            for ns, stored in thread.namespaces.items():
                for cid in [
                    c for c, s in stored.items() if orjson.loads(s.metadata).get("run_id") in runs
                ]:
                    del stored[cid]
                    for key in [k for k in thread.writes if k[0] == ns and k[1] == cid]:
                        del thread.writes[key]
        self._drop_dangling_index()

    async def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = self._threads.get(source_thread_id)
        if source is None:
            return
        target = self._threads.setdefault(target_thread_id, _Thread())
        for ns, stored in source.namespaces.items():
            target.namespaces.setdefault(ns, {}).update(
                {
                    cid: _Stored(s.order, s.parent_id, s.checkpoint, s.metadata)
                    for cid, s in stored.items()
                }
            )
        for key, (path, entries) in source.writes.items():
            target.writes[key] = (path, dict(entries))

    def _drop_dangling_index(self) -> None:
        for cid in [c for c, loc in self._index.items() if self._lookup(loc) is None]:
            del self._index[cid]

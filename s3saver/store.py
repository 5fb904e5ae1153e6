"""The checkpoint store on S3: the contract over one bucket prefix.

Read docs/design.md first: it gives the layout, which object is the truth when two disagree,
and why each operation issues the requests it does. The short version:

* the checkpoint object is the truth; index and run markers are hints that readers verify;
* ``put`` writes the checkpoint and its index entry in the same round trip, create-only, and
  re-reads after a 412/409 before deciding between "my retried write landed", "replace" and
  "someone else owns this";
* reads of a thread are one LIST (newest first, pending writes adjacent) and parallel GETs;
* deletes go page by page, data before index, so a crash leaves only entries that read as absent.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import aioboto3

from . import codec
from .base import CheckpointStore
from .concurrency import gather_all, gather_pair, ordered_map, settle_all
from .errors import (
    CorruptObject,
    InvalidArgument,
    ObjectTooLarge,
)
from .ids import put_time_order_key, time_order_key
from .index import parse_index, read_index, write_index
from .layout import Entry, Layout, inverted, normalize_prefix, order_key_of, segment, unsegment
from .probe import check_store
from .records import CheckpointRecord, PendingWrite, metadata_matches, sort_writes
from .transport import ClientOptions, Transport
from .writes import merged_pending, write_checkpoint, write_marker, write_pending

log = logging.getLogger("s3saver")

SINGLE_PUT_LIMIT = 5 * 1024**3
"""AWS's limit for one PutObject. Bigger objects are refused, not split: a multipart upload's
conditional completion is ignored by several S3-compatible stores (moto, Ceph RGW), which would
silently lose the no-blind-overwrite guarantee for exactly the objects that cost most to redo."""
LATEST_PAGE = 64
"""Keys asked for when finding the newest checkpoint: it and its writes fit in one LIST page."""
HEAD_BYTES = 4096
"""A metadata filter reads this much of each candidate, not its whole body."""


@dataclass
class _Item:
    """A checkpoint found by a listing, with the keys of its pending writes."""

    thread_id: str | None
    stem: str
    id_seg: str
    write_keys: builtins.list[str] = field(default_factory=builtins.list)

    @property
    def key(self) -> str:
        return Layout.checkpoint_key(self.stem)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not isinstance(url, str):
        raise InvalidArgument(f"expected an s3:// URL string, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidArgument(f"expected a URL like s3://bucket/prefix, got {url!r}")
    if parts.query or parts.fragment:
        raise InvalidArgument(f"an s3:// URL takes no query or fragment: {url!r}")
    return parts.netloc, parts.path.lstrip("/")


class S3CheckpointSaver(CheckpointStore):
    """Checkpoints in an S3-compatible bucket, under an optional key prefix.

    Use it as an async context manager: ``async with`` opens one client that every call reuses
    and closes it at the end. Without ``async with`` the client is opened on first use (and
    reopened if the event loop changed, as under ``asyncio.run`` per Lambda invocation); call
    :meth:`close` when done. A ``client`` you pass in is used as is and never closed.

    Connection settings not given here come from the standard AWS configuration: the
    credential chain, ``AWS_REGION``/``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL_S3``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any | None = None,
        session: aioboto3.Session | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        path_style: bool | None = None,
        checksums_when_required: bool | None = None,
        conditional_writes: bool = True,
        max_connections: int = 64,
        max_attempts: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_object_bytes: int = SINGLE_PUT_LIMIT,
        check_store: bool = True,
    ) -> None:
        if not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidArgument(
                f"max_connections must be a positive integer, got {max_connections!r}"
            )
        self.layout = Layout(normalize_prefix(prefix))
        self.transport = Transport(
            bucket,
            client=client,
            session=session,
            options=ClientOptions(
                endpoint_url=endpoint_url,
                region_name=region_name,
                path_style=path_style,
                checksums_when_required=checksums_when_required,
                max_connections=max_connections,
                max_attempts=max_attempts,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            ),
        )
        self.conditional_writes = conditional_writes
        self.concurrency = max_connections
        self.max_object_bytes = max_object_bytes
        self.check_store = check_store
        self._markers: set[str] = set()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3CheckpointSaver:
        """A saver for ``s3://bucket/prefix``; ``options`` are the constructor's keywords."""
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, **options)

    @property
    def bucket(self) -> str:
        return self.transport.bucket

    @property
    def prefix(self) -> str:
        return self.layout.prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}('s3://{self.bucket}/{self.prefix}')"

    async def open(self) -> S3CheckpointSaver:
        """Open the client and, once per process and bucket, check the store suits the layout."""
        await self.transport.client()
        if self.check_store:
            await check_store(self.transport, self.layout, self.conditional_writes)
        return self

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> S3CheckpointSaver:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ================================================================ writes
    async def put_record(self, record: CheckpointRecord) -> None:
        body = codec.encode_checkpoint(record)  # fails before any request
        stem = await self._stem_for_put(record)
        key = Layout.checkpoint_key(stem)
        self._check_size(key, body)
        ops: builtins.list[Awaitable[str]] = [
            write_checkpoint(self.transport, key, body, conditional=self.conditional_writes),
            write_index(
                self.transport,
                self.layout,
                conditional=self.conditional_writes,
                checkpoint_id=record.checkpoint_id,
                thread_id=record.thread_id,
                ns=record.checkpoint_ns,
                key=key,
            ),
        ]
        ops.extend(self._marker_writes(record))
        results = await settle_all(*ops)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is None:
            if results[1] == "kept":
                await self._mark_shared(record.thread_id)
            return
        if results[0] == "created":
            await self._undo_created(key, body)
        # The index entry is never undone: other writers of the same id may rely on it, and
        # one pointing at nothing reads as absent (verify reports it, repair removes it).
        raise failure

    async def _undo_created(self, key: str, body: bytes) -> None:
        """Take back a checkpoint this failed put created, unless another writer has since
        replaced it (their put succeeded and must not be lost)."""
        try:
            current = await self.transport.get(key)
            if current is not None and current.body == body:
                await self.transport.delete([key])
        except Exception as exc:  # the put's own failure is the one to report
            log.warning("could not undo a failed put of %s: %s", key, exc)

    def _check_size(self, key: str, body: bytes) -> None:
        if len(body) > self.max_object_bytes:
            raise ObjectTooLarge(key, len(body), self.max_object_bytes)

    async def _stem_for_put(self, record: CheckpointRecord) -> str:
        order = time_order_key(record.checkpoint_id)
        if order is None:
            # An id without time: an earlier put of it decides where it goes (replace in place).
            existing = await self._find_stem_without_time(
                record.thread_id, record.checkpoint_ns, record.checkpoint_id
            )
            if existing is not None:
                return existing
            order = put_time_order_key()
        return self.layout.stem(record.thread_id, record.checkpoint_ns, order, record.checkpoint_id)

    def _marker_writes(self, record: CheckpointRecord) -> builtins.list[Awaitable[str]]:
        """Markers are written once per saver; a put reuses what earlier puts created."""
        layout = self.layout
        ops: builtins.list[Awaitable[str]] = []
        thread_seg = segment(record.thread_id)
        if thread_seg.startswith("~"):
            # Not cached: another process may have deleted the thread, and without this marker
            # a hashed thread is invisible to list(None). Rare (ids > 128 encoded bytes).
            key = layout.thread_marker(record.thread_id)
            body = codec.encode("thread", {"thread_id": record.thread_id}, what="thread id")
            ops.append(self._write_marker(key, body))
        run_id = record.metadata.get("run_id")
        if isinstance(run_id, str) and run_id:
            body = codec.encode(
                "run", {"run_id": run_id, "thread_id": record.thread_id}, what="run id"
            )
            for key in (
                layout.thread_run_marker(record.thread_id, run_id),
                layout.run_thread_marker(run_id, thread_seg),
            ):
                if key not in self._markers:
                    ops.append(self._write_marker(key, body))
        return ops

    async def _write_marker(self, key: str, body: bytes) -> str:
        await write_marker(self.transport, key, body, conditional=self.conditional_writes)
        self._markers.add(key)
        return "marker"

    async def _mark_shared(self, thread_id: str) -> None:
        key = self.layout.shared_marker(thread_id)
        if key not in self._markers:
            body = codec.encode("shared", {"thread_id": thread_id}, what="thread id")
            await self._write_marker(key, body)

    async def put_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        task_path: str,
        writes: builtins.list[tuple[int, str, Any]],
    ) -> None:
        """One object per (checkpoint, task): a task's batch costs one PUT.

        A second batch for the same task is merged under If-Match: regular writes keep their
        first value, special writes (negative index) replace theirs.
        """
        if not writes:
            return
        encoded = [[idx, channel, value] for idx, channel, value in writes]
        what = f"pending writes of task {task_id!r}"
        body = codec.encode(
            "writes", {"task_id": task_id, "task_path": task_path, "writes": encoded}, what=what
        )
        order = time_order_key(checkpoint_id)
        if order is None:
            found = await self._find_stem_without_time(thread_id, checkpoint_ns, checkpoint_id)
            if found is None:
                raise InvalidArgument(
                    f"pending writes for checkpoint {checkpoint_id!r} (not a time-ordered id) "
                    "can only be stored after the checkpoint itself"
                )
            stem = found
        else:
            stem = self.layout.stem(thread_id, checkpoint_ns, order, checkpoint_id)
        key = Layout.write_key(stem, task_id)
        self._check_size(key, body)
        await write_pending(
            self.transport,
            key,
            body,
            lambda current: merged_pending(key, current, task_id, task_path, writes),
            conditional=self.conditional_writes,
        )

    # ================================================================ reads
    async def get_record(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> CheckpointRecord | None:
        if checkpoint_id is None:
            return await self._latest(thread_id, checkpoint_ns)
        order = time_order_key(checkpoint_id)
        if order is not None:
            stem = self.layout.stem(thread_id, checkpoint_ns, order, checkpoint_id)
        else:
            stem_or_none = await self._find_stem_without_time(
                thread_id, checkpoint_ns, checkpoint_id
            )
            if stem_or_none is None:
                return None
            stem = stem_or_none
        return await self._read(
            _Item(thread_id, stem, segment(checkpoint_id)), strict=True, list_writes=True
        )

    async def _find_stem_without_time(
        self, thread_id: str, ns: str, checkpoint_id: str
    ) -> str | None:
        """Where an id without time lives in this thread and namespace, if it does.

        The index answers when it names this thread. Ids can also live here unindexed (a copy
        made by copy_thread, or a second thread given the same id): then the index names another
        thread or this thread is marked shared, and only a scan of the namespace can tell.
        """
        entry, shared = await gather_pair(
            read_index(self.transport, self.layout, checkpoint_id), self._is_shared(thread_id)
        )
        if entry is not None and (entry.thread_id, entry.checkpoint_ns) == (thread_id, ns):
            return entry.key[: -len(".json")]
        if entry is None and not shared:
            return None
        id_seg = segment(checkpoint_id)
        async for item in self._items(thread_id, ns):
            if item.id_seg == id_seg:
                return item.stem
        return None

    async def _is_shared(self, thread_id: str) -> bool:
        """``!shared.json`` sorts first in the thread, so one LIST of one key answers."""
        marker = self.layout.shared_marker(thread_id)
        page = await self.transport.list_page(self.layout.thread_prefix(thread_id), max_keys=1)
        return bool(page.keys) and page.keys[0] == marker

    async def _latest(self, thread_id: str, ns: str) -> CheckpointRecord | None:
        async for item in self._items(thread_id, ns, page_size=LATEST_PAGE):
            record = await self._read(item, strict=True)
            if record is not None:
                return record
        return None

    async def get_by_id(self, checkpoint_id: str) -> CheckpointRecord | None:
        entry = await read_index(self.transport, self.layout, checkpoint_id)
        if entry is None:
            return None
        stem = entry.key[: -len(".json")]
        # The contract's get() returns the checkpoint alone: no LIST for pending writes.
        return await self._read(_Item(entry.thread_id, stem, segment(checkpoint_id)), strict=True)

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
        before_order: int | None = None
        if before_id is not None:
            before_order = time_order_key(before_id)
            if before_order is None:
                entry = await read_index(self.transport, self.layout, before_id)
                if entry is None:
                    return
                before_order = order_key_of(entry.key.rsplit("/", 1)[1][:32])
        page_size = 1000 if limit is None else min(1000, max(LATEST_PAGE, limit * 4 + 8))
        threads: AsyncIterator[str | None]
        threads = self._thread_names() if thread_id is None else _one(thread_id)
        produced = 0
        async for name in threads:
            items = self._items(name, checkpoint_ns, page_size=page_size, before_order=before_order)

            async def fetch(item: _Item) -> CheckpointRecord | None:
                return await self._read(item, strict=False, metadata_filter=metadata_filter)

            # Without a filter every listed checkpoint is a result: fetch no more than needed.
            wanted = None if limit is None or metadata_filter else limit - produced
            results = cast(
                AsyncGenerator[CheckpointRecord | None, None],
                ordered_map(items, fetch, concurrency=self.concurrency, wanted=wanted),
            )
            try:
                async for record in results:
                    if record is None:
                        continue
                    yield record
                    produced += 1
                    if limit is not None and produced >= limit:
                        return
            finally:
                await results.aclose()

    async def _thread_names(self) -> AsyncIterator[str | None]:
        root = self.layout.threads_root
        async for page in self.transport.pages(root, delimiter="/"):
            for prefix in page.prefixes:
                seg = prefix[len(root) : -1]
                name = unsegment(seg)
                if name is None:
                    name = await self._hashed_thread_name(prefix)
                if name is not None:
                    yield name

    async def _hashed_thread_name(self, thread_prefix: str) -> str | None:
        key = thread_prefix + "~thread.json"
        obj = await self.transport.get(key)
        if obj is None:
            log.warning("thread %s has a hashed name but no ~thread.json; skipped", thread_prefix)
            return None
        try:
            return str(codec.decode("thread", key, obj.body, codec.THREAD_FIELDS)["thread_id"])
        except CorruptObject as exc:
            log.warning("%s", exc)
            return None

    async def _items(
        self,
        thread_id: str | None,
        ns: str | None,
        *,
        page_size: int = 1000,
        before_order: int | None = None,
    ) -> AsyncIterator[_Item]:
        """Checkpoints of a thread in listing order (newest first per namespace), each with
        the keys of its pending writes, from one streaming LIST."""
        assert thread_id is not None
        layout = self.layout
        tprefix = layout.thread_prefix(thread_id)
        prefix = tprefix if ns is None else layout.ns_prefix(thread_id, ns)
        want_ns_seg = None if ns is None else ("" if ns == "" else segment(ns))
        start_after = None
        if before_order is not None and ns is not None:
            # Everything at or above the `before` checkpoint's position is skipped by S3 itself.
            start_after = f"{prefix}{inverted(before_order)}.~"
        current: _Item | None = None
        async for page in self.transport.pages(
            prefix, page_size=page_size, start_after=start_after
        ):
            for key in page.keys:
                entry = layout.parse_thread_entry(tprefix, key)
                if entry.kind not in ("checkpoint", "write"):
                    if entry.kind == "foreign":
                        log.warning("skipping foreign object %s", key)
                    continue
                if want_ns_seg is not None and entry.ns_seg != want_ns_seg:
                    break  # the root namespace's entries end where ns/ begins
                if before_order is not None and order_key_of(entry.inv) >= before_order:
                    continue
                if entry.kind == "checkpoint":
                    if current is not None:
                        yield current
                    current = _Item(thread_id, entry.stem, entry.id_seg)
                elif current is not None and entry.stem == current.stem:
                    current.write_keys.append(key)
                # else: writes whose checkpoint is not stored (yet): not a checkpoint to list
            else:
                continue
            break
        if current is not None:
            yield current

    async def _read(
        self,
        item: _Item,
        *,
        strict: bool,
        list_writes: bool = False,
        metadata_filter: dict[str, Any] | None = None,
    ) -> CheckpointRecord | None:
        """GET a checkpoint and its writes in one round trip (two when writes must be listed,
        or when a metadata filter first reads the head of a large checkpoint)."""
        key = item.key
        try:
            body: bytes | None = None
            if metadata_filter:
                head = await self.transport.get_range(key, 0, HEAD_BYTES - 1)
                if head is None:
                    return None
                data, total = head
                if len(data) >= total:
                    body = data
                else:
                    meta = codec.metadata_from_head(data)
                    if meta is not None and not metadata_matches(meta, metadata_filter):
                        return None
            write_keys = item.write_keys
            if list_writes:
                content, write_keys = await gather_pair(
                    self._get_body(key, body), self._list_write_keys(item.stem)
                )
                writes_objs = await gather_all(*(self.transport.get(k) for k in write_keys))
            else:
                content, writes_objs = await gather_pair(
                    self._get_body(key, body),
                    gather_all(*(self.transport.get(k) for k in write_keys)),
                )
            if content is None:
                return None
            record = self._decode_checkpoint(item, key, content)
            if not metadata_matches(record.metadata, metadata_filter):
                return None
            writes: builtins.list[PendingWrite] = []
            for wkey, wobj in zip(write_keys, writes_objs, strict=True):
                if wobj is not None:
                    writes.extend(self._decode_writes(wkey, wobj.body))
            record.writes = sort_writes(writes)
            return record
        except CorruptObject as exc:
            if strict:
                raise
            log.warning("skipping unreadable checkpoint: %s", exc)
            return None

    async def _get_body(self, key: str, known: bytes | None) -> bytes | None:
        if known is not None:
            return known
        obj = await self.transport.get(key)
        return None if obj is None else obj.body

    async def _list_write_keys(self, stem: str) -> builtins.list[str]:
        keys: builtins.list[str] = []
        async for page in self.transport.pages(Layout.writes_prefix(stem)):
            keys.extend(page.keys)
        return keys

    def _decode_checkpoint(self, item: _Item, key: str, data: bytes) -> CheckpointRecord:
        body = codec.decode("checkpoint", key, data, codec.CHECKPOINT_FIELDS)
        cid, ns = body["id"], body["ns"]
        if not isinstance(cid, str) or segment(cid) != item.id_seg or not isinstance(ns, str):
            raise CorruptObject(key, "its id does not match its key")
        if not isinstance(body["metadata"], dict):
            raise CorruptObject(key, "metadata is not a JSON object")
        thread_id = item.thread_id
        if thread_id is None:
            raise CorruptObject(key, "cannot tell which thread it belongs to")
        return CheckpointRecord(
            thread_id=thread_id,
            checkpoint_ns=ns,
            checkpoint_id=cid,
            parent_id=body["parent_id"],
            checkpoint=body["checkpoint"],
            metadata=body["metadata"],
        )

    @staticmethod
    def _decode_writes(key: str, data: bytes) -> builtins.list[PendingWrite]:
        body = codec.decode("writes", key, data, codec.WRITES_FIELDS)
        try:
            return [
                PendingWrite(str(body["task_id"]), str(body["task_path"]), int(i), str(c), v)
                for i, c, v in body["writes"]
            ]
        except (TypeError, ValueError):
            raise CorruptObject(key, "malformed pending writes") from None

    # ================================================================ deletes
    async def _delete_thread(self, thread_id: str) -> None:
        await self._sweep(thread_id, lambda entry, doomed: True, whole_thread=True)
        self._forget_markers(thread_id)

    async def _prune(self, thread_id: str, keep: int) -> int:
        counts: dict[str, int] = {}

        def doomed(entry: Entry, checkpoint_doomed: bool | None) -> bool:
            if entry.kind == "checkpoint":
                counts[entry.ns_seg] = counts.get(entry.ns_seg, 0) + 1
                return counts[entry.ns_seg] > keep
            if checkpoint_doomed is not None:
                return checkpoint_doomed
            # Writes without a stored checkpoint: doomed once past the kept checkpoints.
            return counts.get(entry.ns_seg, 0) >= keep

        return await self._sweep(thread_id, doomed, whole_thread=False)

    async def _sweep(
        self,
        thread_id: str,
        doomed: Callable[[Entry, bool | None], bool],
        *,
        whole_thread: bool,
    ) -> int:
        """Delete a thread's doomed objects page by page: data first, then the index entries
        and markers that point at it, so a crash leaves only entries that read as absent.

        ``doomed(entry, checkpoint_doomed)`` decides for checkpoints (second argument None) and
        for writes (the fate of their checkpoint, or None when it is not stored).
        """
        layout = self.layout
        tprefix = layout.thread_prefix(thread_id)
        thread_seg = segment(thread_id)
        shared = False
        removed = 0
        data: builtins.list[str] = []
        index: builtins.list[tuple[str, str]] = []  # (index key, the checkpoint key it may name)
        markers: builtins.list[str] = []
        current_stem: str | None = None
        current_doomed = False

        async def flush() -> None:
            nonlocal data, index, markers
            if data:
                await self.transport.delete(data)
            idx = [ikey for ikey, _ in index]
            if shared and idx:
                idx = await self._own_index_keys(index)
            if idx or markers:
                await self.transport.delete(idx + markers)
            data, index, markers = [], [], []

        async for page in self.transport.pages(tprefix):
            for key in page.keys:
                entry = layout.parse_thread_entry(tprefix, key)
                if entry.kind == "shared-marker":
                    shared = True
                if entry.kind == "checkpoint":
                    current_stem = entry.stem
                    current_doomed = doomed(entry, None)
                    if current_doomed:
                        removed += 1
                        data.append(key)
                        index.append((layout.index_key_for_segment(entry.id_seg), key))
                elif entry.kind == "write":
                    same = entry.stem == current_stem
                    if doomed(entry, current_doomed if same else None):
                        data.append(key)
                elif whole_thread:
                    data.append(key)
                    if entry.kind == "run-marker":
                        markers.append(f"{layout.prefix}runs/{entry.run_seg}/{thread_seg}")
            if len(data) + len(index) >= 1000:
                await flush()
        await flush()
        return removed

    async def _own_index_keys(
        self, index_keys: builtins.list[tuple[str, str]]
    ) -> builtins.list[str]:
        """Of these (index key, deleted checkpoint key) pairs, the index entries that name the
        deleted checkpoint; an entry naming another live copy of the id stays."""

        async def owned(ikey: str, key: str) -> str | None:
            obj = await self.transport.get(ikey)
            if obj is None:
                return None
            entry = parse_index(self.layout, ikey, obj)
            return ikey if entry is None or entry.key == key else None

        found = await _bounded_gather([owned(i, k) for i, k in index_keys], self.concurrency)
        return [k for k in found if k is not None]

    def _forget_markers(self, thread_id: str) -> None:
        tprefix = self.layout.thread_prefix(thread_id)
        tail = "/" + segment(thread_id)
        self._markers = {
            m for m in self._markers if not m.startswith(tprefix) and not m.endswith(tail)
        }

    async def _delete_for_runs(self, run_ids: builtins.list[str]) -> None:
        layout = self.layout
        for run_id in run_ids:
            rprefix = layout.run_prefix(run_id)
            async for page in self.transport.pages(rprefix):
                for marker in page.keys:
                    thread_id = await self._run_marker_thread(marker)
                    if thread_id is not None:
                        await self._delete_run_in_thread(run_id, thread_id)
                    gone = [marker]
                    if thread_id:
                        gone.append(layout.thread_run_marker(thread_id, run_id))
                    await self.transport.delete(gone)
                    # A later put of this run must write its markers again.
                    self._markers.difference_update(gone)

    async def _run_marker_thread(self, marker: str) -> str | None:
        obj = await self.transport.get(marker)
        if obj is None:
            return None
        try:
            return str(codec.decode("run", marker, obj.body, codec.RUN_FIELDS)["thread_id"])
        except CorruptObject as exc:
            log.warning("%s", exc)
            return None

    async def _delete_run_in_thread(self, run_id: str, thread_id: str) -> None:
        """Checkpoints of a run are found by reading each one's metadata head (a ranged GET)."""
        wanted = {"run_id": run_id}

        async def fetch(item: _Item) -> tuple[_Item, bool]:
            head = await self.transport.get_range(item.key, 0, HEAD_BYTES - 1)
            if head is None:
                return item, False
            meta = codec.metadata_from_head(head[0])
            if meta is None:
                obj = await self.transport.get(item.key)
                if obj is None:
                    return item, False
                try:
                    meta = self._decode_checkpoint(item, item.key, obj.body).metadata
                except CorruptObject:
                    return item, False
            return item, metadata_matches(meta, wanted)

        doomed: builtins.list[str] = []
        index: builtins.list[tuple[str, str]] = []
        async for item, match in ordered_map(
            self._items(thread_id, None), fetch, concurrency=self.concurrency
        ):
            if match:
                doomed.extend([item.key, *item.write_keys])
                index.append((self.layout.index_key_for_segment(item.id_seg), item.key))
            if len(doomed) >= 900:
                await self._delete_data_then_index(thread_id, doomed, index)
                doomed, index = [], []
        await self._delete_data_then_index(thread_id, doomed, index)

    async def _delete_data_then_index(
        self, thread_id: str, data: builtins.list[str], index: builtins.list[tuple[str, str]]
    ) -> None:
        if data:
            await self.transport.delete(data)
        if index:
            await self.transport.delete(await self._own_index_keys(index))

    # ================================================================ copy
    async def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Server-side copies: checkpoint bodies carry no thread name, so bytes copy verbatim.

        The target is marked shared first: its ids stay indexed to the source, and a later
        delete of the target must not remove the source's index entries.
        """
        layout = self.layout
        src = layout.thread_prefix(source_thread_id)
        dst = layout.thread_prefix(target_thread_id)
        target_seg = segment(target_thread_id)
        await self._mark_shared(target_thread_id)
        if target_seg.startswith("~"):
            body = codec.encode("thread", {"thread_id": target_thread_id}, what="thread id")
            await self._write_marker(layout.thread_marker(target_thread_id), body)

        async def copy(key: str) -> None:
            entry = layout.parse_thread_entry(src, key)
            if entry.kind in ("thread-marker", "shared-marker"):
                return
            await self.transport.copy(key, dst + key[len(src) :])
            if entry.kind == "run-marker":
                run_body = codec.encode(
                    "run",
                    {
                        "run_id": unsegment(entry.run_seg) or entry.run_seg,
                        "thread_id": target_thread_id,
                    },
                    what="run id",
                )
                await self._write_marker(
                    f"{layout.prefix}runs/{entry.run_seg}/{target_seg}", run_body
                )

        async def keys() -> AsyncIterator[str]:
            async for page in self.transport.pages(src):
                for key in page.keys:
                    yield key

        async for _ in ordered_map(keys(), copy, concurrency=self.concurrency):
            pass


async def _one(value: str) -> AsyncIterator[str | None]:
    yield value


async def _bounded_gather(aws: builtins.list[Awaitable[Any]], limit: int) -> builtins.list[Any]:
    sem = asyncio.Semaphore(limit)

    async def run(aw: Awaitable[Any]) -> Any:
        async with sem:
            return await aw

    return await gather_all(*(run(a) for a in aws))

"""Index objects: one per checkpoint id, so that ``get(id)`` without a thread is a GET.

The index is a hint, the checkpoint object is the truth: an entry pointing at nothing reads as
absent, and an id that already lives (alive) elsewhere keeps its first location. See
docs/design.md, "Which object is the truth" and "Ids shared between threads".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import codec
from .errors import CorruptObject
from .layout import Layout
from .transport import PreconditionFailed, StoredObject, Transport
from .writes import MAX_CAS_ATTEMPTS, backoff, conflict

log = logging.getLogger("s3saver")


@dataclass(frozen=True)
class IndexEntry:
    checkpoint_id: str
    thread_id: str
    checkpoint_ns: str
    key: str
    """The checkpoint's full key (prefix included)."""
    etag: str


def parse_index(layout: Layout, ikey: str, obj: StoredObject) -> IndexEntry | None:
    try:
        body = codec.decode("index", ikey, obj.body, codec.INDEX_FIELDS)
    except CorruptObject as exc:
        log.warning("%s", exc)
        return None
    return IndexEntry(
        checkpoint_id=str(body["id"]),
        thread_id=str(body["thread_id"]),
        checkpoint_ns=str(body["ns"]),
        key=layout.prefix + str(body["key"]),
        etag=obj.etag,
    )


async def read_index(transport: Transport, layout: Layout, checkpoint_id: str) -> IndexEntry | None:
    ikey = layout.index_key(checkpoint_id)
    obj = await transport.get(ikey)
    if obj is None:
        return None
    entry = parse_index(layout, ikey, obj)
    if entry is None or entry.checkpoint_id != checkpoint_id:
        return None
    return entry


async def exists(transport: Transport, key: str) -> bool:
    """One LIST of one key: cheaper in bytes than a GET of a checkpoint body."""
    page = await transport.list_page(key, max_keys=1)
    return bool(page.keys) and page.keys[0] == key


async def write_index(
    transport: Transport,
    layout: Layout,
    *,
    conditional: bool,
    checkpoint_id: str,
    thread_id: str,
    ns: str,
    key: str,
) -> str:
    """Point the id's entry at ``key`` unless a live checkpoint already owns the id.

    Returns "created", "exists" (already pointing here), "kept" (owned elsewhere),
    "replaced" (the old entry was dangling) or "written" (unconditional mode).
    """
    ikey = layout.index_key(checkpoint_id)
    body = codec.encode(
        "index",
        {"id": checkpoint_id, "thread_id": thread_id, "ns": ns, "key": layout.relative(key)},
        what=f"index of checkpoint {checkpoint_id!r}",
    )
    if not conditional:
        await transport.put(ikey, body)
        return "written"
    try:
        await transport.put(ikey, body, if_none_match=True)
        return "created"
    except PreconditionFailed:
        pass
    for attempt in range(MAX_CAS_ATTEMPTS):
        await backoff(attempt)
        current = await transport.get(ikey)
        try:
            if current is None:
                await transport.put(ikey, body, if_none_match=True)
                return "created"
            entry = parse_index(layout, ikey, current)
            if entry is not None and entry.key == key:
                return "exists"
            if entry is not None and await exists(transport, entry.key):
                return "kept"
            await transport.put(ikey, body, if_match=current.etag)
            return "replaced"
        except PreconditionFailed:
            continue
    raise conflict(transport, ikey, "this index entry")

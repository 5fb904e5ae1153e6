"""The bucket layout: every key s3saver reads or writes is built and parsed here.

See docs/design.md for the layout and its invariants. In short, under the saver's prefix::

    threads/<T>/<INV>-<ID>.json               checkpoint of the root namespace
    threads/<T>/<INV>-<ID>.w/<TASK>.json      its pending writes, one object per task
    threads/<T>/ns/<NS>/<INV>-<ID>.json       checkpoint of namespace NS (and .w/ beside it)
    threads/<T>/!shared.json                  some ids here are indexed to another thread
    threads/<T>/~thread.json                  the thread's real name, when <T> is a hash
    threads/<T>/~runs/<RUN>                   this thread has checkpoints of run RUN
    runs/<RUN>/<T>                            run RUN has checkpoints in thread T
    index/<SHARD>/<ID>.json                   where checkpoint ID lives (get-by-id is a GET)

``INV`` is 32 hex digits, the bitwise complement of the checkpoint's 128-bit time order key, so a
plain LIST of a thread returns newest first; ``.`` sorts before ``/`` and every hex digit, so a
checkpoint's writes come right after it in that same LIST. Names are percent-encoded segments
(see :func:`segment`), so no user-chosen string can reach across a ``/``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidArgument

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdef")
MAX_SEGMENT = 128
"""Longer encoded names are replaced by a hash, keeping every key far below S3's 1,024 bytes."""
_HASHED = "~"
INV_WIDTH = 32
_MAX_KEY = (1 << 128) - 1

CHECKPOINT_SUFFIX = ".json"
WRITES_INFIX = ".w/"
NS_DIR = "ns/"
THREAD_MARKER = "~thread.json"
SHARED_MARKER = "!shared.json"
"""Sorts before every other key of the thread, so the first LIST page of a delete shows it."""
RUNS_DIR = "~runs/"


def segment(name: str) -> str:
    """Encode a user-chosen name as one key segment: reversible, ``/``-free, bounded length.

    Only ASCII letters, digits, ``-`` and ``_`` stay as they are; every other byte of the UTF-8
    text becomes ``%XX`` (``.`` too, so ``..`` and the ``.json`` suffix can never be forged).
    A result longer than :data:`MAX_SEGMENT` becomes ``~`` plus the SHA-256 of the name; the
    name is then kept inside the objects instead.
    """
    raw = name.encode("utf-8", "surrogatepass")
    out = "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)
    if len(out) > MAX_SEGMENT:
        return _HASHED + hashlib.sha256(raw).hexdigest()
    return out


def unsegment(seg: str) -> str | None:
    """The name a segment encodes, or None when the segment is a hash (or not ours)."""
    if not seg or seg.startswith(_HASHED):
        return None
    out = bytearray()
    i = 0
    try:
        while i < len(seg):
            c = seg[i]
            if c == "%":
                out.append(int(seg[i + 1 : i + 3], 16))
                i += 3
            else:
                b = ord(c)
                if b not in _SAFE:
                    return None
                out.append(b)
                i += 1
        return out.decode("utf-8", "surrogatepass")
    except (ValueError, UnicodeDecodeError):
        return None


def require_name(kind: str, value: object) -> str:
    """Thread ids must be non-empty strings; anything else is the caller's mistake."""
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{kind} must be a non-empty string, got {value!r}")
    return value


def normalize_prefix(prefix: str) -> str:
    """A key prefix always ends in ``/`` (or is empty), so prefix ``a`` never matches ``ab``."""
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix must be a string, got {prefix!r}")
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def inverted(order_key: int) -> str:
    return f"{_MAX_KEY - order_key:0{INV_WIDTH}x}"


def order_key_of(inv: str) -> int:
    return _MAX_KEY - int(inv, 16)


@dataclass(frozen=True)
class Layout:
    """Key arithmetic for one saver prefix."""

    prefix: str = ""

    # ---- threads and namespaces -------------------------------------------------------
    @property
    def threads_root(self) -> str:
        return f"{self.prefix}threads/"

    def thread_prefix(self, thread_id: str) -> str:
        return f"{self.threads_root}{segment(thread_id)}/"

    def ns_prefix(self, thread_id: str, checkpoint_ns: str) -> str:
        base = self.thread_prefix(thread_id)
        return base if checkpoint_ns == "" else f"{base}{NS_DIR}{segment(checkpoint_ns)}/"

    # ---- checkpoints and writes ---------------------------------------------------------
    def stem(self, thread_id: str, checkpoint_ns: str, order_key: int, checkpoint_id: str) -> str:
        """Common start of a checkpoint's key and its writes' keys."""
        base = self.ns_prefix(thread_id, checkpoint_ns)
        return f"{base}{inverted(order_key)}-{segment(checkpoint_id)}"

    @staticmethod
    def checkpoint_key(stem: str) -> str:
        return stem + CHECKPOINT_SUFFIX

    @staticmethod
    def writes_prefix(stem: str) -> str:
        return stem + WRITES_INFIX

    @staticmethod
    def write_key(stem: str, task_id: str) -> str:
        return f"{stem}{WRITES_INFIX}{segment(task_id)}.json"

    @staticmethod
    def after_checkpoint(stem: str) -> str:
        """A StartAfter value that skips this checkpoint and its writes (``~`` > ``j``, ``w``)."""
        return stem + ".~"

    def thread_marker(self, thread_id: str) -> str:
        return self.thread_prefix(thread_id) + THREAD_MARKER

    def shared_marker(self, thread_id: str) -> str:
        return self.thread_prefix(thread_id) + SHARED_MARKER

    # ---- runs ---------------------------------------------------------------------------
    def thread_run_marker(self, thread_id: str, run_id: str) -> str:
        return f"{self.thread_prefix(thread_id)}{RUNS_DIR}{segment(run_id)}"

    def run_prefix(self, run_id: str) -> str:
        return f"{self.prefix}runs/{segment(run_id)}/"

    def run_thread_marker(self, run_id: str, thread_seg: str) -> str:
        return f"{self.run_prefix(run_id)}{thread_seg}"

    # ---- index --------------------------------------------------------------------------
    def index_key_for_segment(self, id_seg: str) -> str:
        """Index object of an id, sharded by a hash so time-ordered ids spread over 256 ranges."""
        shard = hashlib.sha256(id_seg.encode()).hexdigest()[:2]
        return f"{self.prefix}index/{shard}/{id_seg}.json"

    def index_key(self, checkpoint_id: str) -> str:
        return self.index_key_for_segment(segment(checkpoint_id))

    # ---- parsing --------------------------------------------------------------------------
    def relative(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    def parse_thread_entry(self, thread_prefix: str, key: str) -> Entry:
        """Classify a key found under a thread's prefix."""
        rest = key[len(thread_prefix) :]
        ns_seg = ""
        if rest.startswith(NS_DIR):
            ns_seg, sep, rest = rest[len(NS_DIR) :].partition("/")
            if not sep or not ns_seg:
                return Entry("foreign", key)
        elif rest == THREAD_MARKER:
            return Entry("thread-marker", key)
        elif rest == SHARED_MARKER:
            return Entry("shared-marker", key)
        elif rest.startswith(RUNS_DIR):
            return Entry("run-marker", key, run_seg=rest[len(RUNS_DIR) :])
        if len(rest) <= INV_WIDTH + 1 or rest[INV_WIDTH] != "-":
            return Entry("foreign", key)
        inv = rest[:INV_WIDTH]
        if not set(inv) <= _HEX:
            return Entry("foreign", key)
        tail = rest[INV_WIDTH + 1 :]
        if tail.endswith(CHECKPOINT_SUFFIX) and "/" not in tail:
            id_seg = tail[: -len(CHECKPOINT_SUFFIX)]
            kind: EntryKind = "checkpoint"
            task_seg = ""
        else:
            id_seg, sep, task_part = tail.partition(WRITES_INFIX)
            if not sep or not task_part.endswith(".json") or "/" in task_part:
                return Entry("foreign", key)
            kind = "write"
            task_seg = task_part[: -len(".json")]
        if not id_seg or "." in id_seg or "/" in id_seg:
            return Entry("foreign", key)
        stem = key[: len(thread_prefix)] + (f"{NS_DIR}{ns_seg}/" if ns_seg else "")
        stem += f"{inv}-{id_seg}"
        return Entry(kind, key, ns_seg=ns_seg, inv=inv, id_seg=id_seg, stem=stem, task_seg=task_seg)


EntryKind = Literal[
    "checkpoint", "write", "thread-marker", "shared-marker", "run-marker", "foreign"
]


@dataclass(frozen=True)
class Entry:
    """One key under a thread prefix, classified."""

    kind: EntryKind
    key: str
    ns_seg: str = ""
    inv: str = ""
    id_seg: str = ""
    stem: str = ""
    task_seg: str = ""
    run_seg: str = ""

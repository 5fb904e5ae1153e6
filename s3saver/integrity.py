"""``verify`` and ``repair``: check a prefix against the layout's invariants, fix what can be.

The invariants (docs/design.md):

1. every index entry points to an existing checkpoint with that id (else: *dangling index*);
2. every checkpoint is reachable by id: its id has an index entry that points to a live copy
   of it (else: *unindexed checkpoint*);
3. each namespace lists strictly newest first (else: *out of order*, the store breaks the
   layout; not repairable here);
4. nothing is left of a thread beyond its checkpoints: no writes of a checkpoint that is gone
   while newer ones exist (*orphan writes*), no markers of runs with nothing behind them
   (*orphan marker*), no marker-only remnants of a deleted thread (*thread remnant*);
5. every object under the prefix is one of s3saver's (else: *foreign object*; reported, never
   touched).

A crash can leave (1), (2) and (4) behind by design (data first, hints second); ``repair``
fixes exactly those. Verification reads every key under the prefix and every index entry, so
its memory grows with the number of checkpoints (one short string each): it is a maintenance
tool, not something to run per request.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from . import codec
from .concurrency import ordered_map
from .errors import CorruptObject
from .layout import INV_WIDTH, order_key_of, unsegment
from .store import S3CheckpointSaver
from .transport import PreconditionFailed

log = logging.getLogger("s3saver")

ProblemKind = Literal[
    "dangling-index",
    "unindexed-checkpoint",
    "out-of-order",
    "orphan-writes",
    "orphan-marker",
    "thread-remnant",
    "foreign-object",
    "corrupt-object",
]
REPAIRABLE = {
    "dangling-index",
    "unindexed-checkpoint",
    "orphan-writes",
    "orphan-marker",
    "thread-remnant",
}


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    key: str
    detail: str = ""

    @property
    def repairable(self) -> bool:
        return self.kind in REPAIRABLE


@dataclass
class Report:
    threads: int = 0
    checkpoints: int = 0
    writes: int = 0
    index_entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, kind: ProblemKind) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def summary(self) -> str:
        kinds = sorted({p.kind for p in self.problems})
        found = ", ".join(f"{self.count(k)} {k}" for k in kinds) or "no problems"
        text = (
            f"{self.threads} threads, {self.checkpoints} checkpoints, "
            f"{self.writes} writes objects, {self.index_entries} index entries: {found}"
        )
        if self.repaired:
            text += f"; repaired {len(self.repaired)}"
        return text


@dataclass
class _Checkpoint:
    key: str
    id_seg: str
    thread_seg: str


async def verify(saver: S3CheckpointSaver) -> Report:
    """Check every invariant over the saver's whole prefix; nothing is changed."""
    layout = saver.layout
    report = Report()
    by_index_key: dict[str, list[_Checkpoint]] = defaultdict(list)
    checkpoint_keys: set[str] = set()
    thread_runs: set[tuple[str, str]] = set()  # (run_seg, thread_seg) from threads/<T>/~runs/
    stems: dict[str, tuple[str, int]] = {}  # checkpoint stem -> (namespace group, order)
    newest: dict[str, int] = {}  # namespace group -> newest order key
    writes_by_stem: dict[str, list[str]] = defaultdict(list)
    thread_content: dict[str, bool] = {}
    thread_markers: dict[str, list[str]] = defaultdict(list)
    previous: dict[str, str] = {}  # namespace group -> last key seen

    root = layout.threads_root
    async for page in saver.transport.pages(root):
        for key in page.keys:
            rest = key[len(root) :]
            thread_seg, sep, _ = rest.partition("/")
            if not sep or not thread_seg:
                report.problems.append(Problem("foreign-object", key, "not inside a thread"))
                continue
            tprefix = f"{root}{thread_seg}/"
            if thread_seg not in thread_content:
                report.threads += 1
                thread_content[thread_seg] = False
            entry = layout.parse_thread_entry(tprefix, key)
            group = f"{thread_seg}/{entry.ns_seg}"
            if entry.kind in ("checkpoint", "write"):
                thread_content[thread_seg] = True
                last = previous.get(group)
                if last is not None and key < last:
                    report.problems.append(
                        Problem(
                            "out-of-order",
                            key,
                            f"listed after {last!r}: the store does "
                            "not list keys in UTF-8 byte order",
                        )
                    )
                previous[group] = key
            if entry.kind == "checkpoint":
                report.checkpoints += 1
                order = order_key_of(entry.inv)
                stems[entry.stem] = (group, order)
                newest[group] = max(newest.get(group, 0), order)
                checkpoint_keys.add(key)
                ikey = layout.index_key_for_segment(entry.id_seg)
                by_index_key[ikey].append(_Checkpoint(key, entry.id_seg, thread_seg))
            elif entry.kind == "write":
                report.writes += 1
                writes_by_stem[entry.stem].append(key)
            elif entry.kind == "run-marker":
                thread_runs.add((entry.run_seg, thread_seg))
                thread_markers[thread_seg].append(key)
            elif entry.kind in ("thread-marker", "shared-marker"):
                thread_markers[thread_seg].append(key)
            else:
                report.problems.append(Problem("foreign-object", key, "not an s3saver key"))

    # (4) writes whose checkpoint is gone while newer checkpoints exist in the namespace
    for stem, keys in writes_by_stem.items():
        if stem in stems:
            continue
        inv = stem.rsplit("/", 1)[-1].split("-", 1)[0]
        rel = stem[len(root) :]
        thread_seg = rel.split("/", 1)[0]
        ns_seg = rel.split("/")[2] if rel.split("/")[1:2] == ["ns"] else ""
        group = f"{thread_seg}/{ns_seg}"
        if newest.get(group, -1) > order_key_of(inv):
            for key in keys:
                report.problems.append(Problem("orphan-writes", key, "its checkpoint is gone"))

    # (4) thread remnants: markers only, no checkpoint or writes left
    for thread_seg, markers in thread_markers.items():
        if not thread_content.get(thread_seg):
            for key in markers:
                report.problems.append(Problem("thread-remnant", key, "thread has no data"))

    # (4) run markers without the thread's side (or without the thread)
    runs_root = f"{layout.prefix}runs/"
    async for page in saver.transport.pages(runs_root):
        for key in page.keys:
            run_seg, _, thread_seg = key[len(runs_root) :].partition("/")
            if (run_seg, thread_seg) not in thread_runs or not thread_content.get(thread_seg):
                report.problems.append(
                    Problem("orphan-marker", key, "the thread holds no checkpoints of this run")
                )

    # (1) and (2): every index entry against the checkpoints found
    index_root = f"{layout.prefix}index/"
    seen_index: set[str] = set()

    async def index_keys() -> AsyncIterator[str]:
        async for page in saver.transport.pages(index_root):
            for key in page.keys:
                yield key

    async def read(ikey: str) -> tuple[str, str | None, str | None]:
        obj = await saver.transport.get(ikey)
        if obj is None:
            return ikey, None, None
        try:
            body = codec.decode("index", ikey, obj.body, codec.INDEX_FIELDS)
        except CorruptObject as exc:
            return ikey, None, exc.reason
        return ikey, layout.prefix + str(body["key"]), None

    async for ikey, target, error in ordered_map(index_keys(), read, concurrency=saver.concurrency):
        report.index_entries += 1
        seen_index.add(ikey)
        if error is not None:
            report.problems.append(Problem("corrupt-object", ikey, error))
        elif target is None:
            continue  # deleted while we looked
        elif target not in checkpoint_keys:
            report.problems.append(Problem("dangling-index", ikey, f"points to missing {target}"))
            if by_index_key.get(ikey):
                # the id lives elsewhere: re-pointing the entry makes it reachable again
                for cp in by_index_key[ikey]:
                    report.problems.append(
                        Problem("unindexed-checkpoint", cp.key, "its index entry is dangling")
                    )
    for ikey, cps in by_index_key.items():
        if ikey not in seen_index:
            for cp in cps:
                report.problems.append(Problem("unindexed-checkpoint", cp.key, "no index entry"))
    return report


async def repair(saver: S3CheckpointSaver) -> Report:
    """Verify, then fix what a crash can leave behind; returns the report of the repair.

    Dangling index entries are re-pointed at a live copy of the id when one exists, else
    deleted; unindexed checkpoints get an entry; orphan writes, orphan markers and thread
    remnants are deleted. Out-of-order listings and foreign objects are only reported.
    """
    report = await verify(saver)
    layout = saver.layout
    reindexed: set[str] = set()
    doomed: list[str] = []
    fixed: list[Problem] = []
    for problem in report.problems:
        if problem.kind == "unindexed-checkpoint":
            name = problem.key.rsplit("/", 1)[-1]
            ikey = layout.index_key_for_segment(name[INV_WIDTH + 1 : -len(".json")])
            if ikey in reindexed:
                fixed.append(problem)
                continue
            if await _reindex(saver, problem.key):
                reindexed.add(ikey)
                fixed.append(problem)
    for problem in report.problems:
        if problem.kind == "dangling-index":
            if problem.key not in reindexed:
                doomed.append(problem.key)
            fixed.append(problem)
        elif problem.kind in ("orphan-writes", "orphan-marker", "thread-remnant"):
            doomed.append(problem.key)
            fixed.append(problem)
    if doomed:
        await saver.transport.delete(doomed)
    report.repaired = fixed
    report.problems = [p for p in report.problems if p not in fixed]
    return report


async def _reindex(saver: S3CheckpointSaver, key: str) -> bool:
    """Write the index entry of the checkpoint at ``key`` (its id and ns come from its body)."""
    layout = saver.layout
    obj = await saver.transport.get(key)
    if obj is None:
        return False
    try:
        body = codec.decode("checkpoint", key, obj.body, codec.CHECKPOINT_FIELDS)
    except CorruptObject as exc:
        log.warning("cannot re-index: %s", exc)
        return False
    rel = key[len(layout.threads_root) :]
    thread_seg = rel.split("/", 1)[0]
    thread_id = unsegment(thread_seg)
    if thread_id is None:
        thread_id = await saver._hashed_thread_name(f"{layout.threads_root}{thread_seg}/")
    if thread_id is None:
        return False
    ikey = layout.index_key(str(body["id"]))
    entry = codec.encode(
        "index",
        {"id": body["id"], "thread_id": thread_id, "ns": body["ns"], "key": layout.relative(key)},
        what="index entry",
    )
    current = await saver.transport.get(ikey)
    try:
        if current is None:
            await saver.transport.put(ikey, entry, if_none_match=saver.conditional_writes)
        else:
            await saver.transport.put(ikey, entry, if_match=current.etag)
    except PreconditionFailed:
        return False  # someone (a put) wrote it meanwhile: theirs is newer
    return True


__all__ = ["Problem", "Report", "repair", "verify"]

"""What every runner shares: the graph, the synthetic thread contents and the workload names.

Imported by the runners, which run in different virtualenvs (the project's, and one per peer);
it needs only the standard library and langgraph, which every one of those environments has.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

# Workloads, in the order they run on one thread length. Read-only ones first, so that the
# thread still has exactly the advertised length while they are measured; then the ones that
# add to the thread; then the destructive ones (prune gets its own thread, delete_thread
# removes the main thread last).
READ_WORKLOADS = ("resume", "get", "list", "list_filter")
WRITE_WORKLOADS = ("put_writes", "put", "graph")
DESTRUCTIVE_WORKLOADS = ("prune", "delete_thread")
WORKLOADS = READ_WORKLOADS + WRITE_WORKLOADS + DESTRUCTIVE_WORKLOADS

WORKLOAD_TITLES = {
    "put": "put (one checkpoint)",
    "put_writes": "put_writes (one task, 2 writes)",
    "resume": "resume (newest checkpoint + pending writes)",
    "get": "get by id",
    "list": "list(limit=10)",
    "list_filter": 'list(filter={"source": "input"}, limit=10)',
    "graph": "LangGraph run: 10 steps, interrupt, resume",
    "prune": "prune to the newest 10",
    "delete_thread": "delete_thread",
}

NOTES_BYTES = 2048  # size of the state's free-text channel: a checkpoint is ~2.3 KB
GRAPH_STEPS = 10
INTERRUPT_AT = 5
FILTER = {"source": "input"}  # every 10th populated checkpoint matches
FILTER_EVERY = 10
WRITES_PER_TASK = (("last", "step"), ("count", 1))


class State(TypedDict):
    count: int
    last: str
    notes: str
    trail: Annotated[list[str], operator.add]


def build_graph() -> Any:
    """A 10-node chain whose node 5 interrupts once; identical in every runner."""
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    builder: Any = StateGraph(State)

    def make_node(i: int) -> Any:
        def node(state: State) -> dict[str, Any]:
            if i == INTERRUPT_AT:
                answer = interrupt({"question": "continue?", "count": state["count"]})
                return {"count": state["count"] + 1, "last": f"n{i}:{answer}", "trail": []}
            return {"count": state["count"] + 1, "last": f"n{i}", "trail": []}

        return node

    for i in range(1, GRAPH_STEPS + 1):
        builder.add_node(f"n{i}", make_node(i))
    builder.add_edge(START, "n1")
    for i in range(1, GRAPH_STEPS):
        builder.add_edge(f"n{i}", f"n{i + 1}")
    builder.add_edge(f"n{GRAPH_STEPS}", END)
    return builder


def graph_input() -> dict[str, Any]:
    return {"count": 0, "notes": "n" * NOTES_BYTES, "trail": ["run"]}


def template_checkpoint(version_fn: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The final checkpoint (and its channel versions) of one complete run of the graph.

    Populated threads are copies of it under new ids, so a graph can be resumed on them as if
    it had run there thousands of times. ``version_fn`` is the saver's own
    ``get_next_version`` (int or string channel versions, whichever the saver produces).
    """
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    saver = InMemorySaver()
    if version_fn is not None:
        saver.get_next_version = version_fn  # type: ignore[method-assign]
    graph = build_graph().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "template"}}
    graph.invoke(graph_input(), config)
    graph.invoke(Command(resume="yes"), config)
    tup = saver.get_tuple(config)
    assert tup is not None
    checkpoint = dict(tup.checkpoint)
    return checkpoint, dict(checkpoint["channel_versions"])


def checkpoint_ids(n: int) -> list[str]:
    """n LangGraph-style (uuid6) checkpoint ids in increasing, i.e. chronological, order."""
    from langgraph.checkpoint.base.id import uuid6

    ids = [str(uuid6(clock_seq=i)) for i in range(n)]
    ids.sort()
    return ids


def make_checkpoint(template: dict[str, Any], checkpoint_id: str) -> dict[str, Any]:
    from datetime import datetime, timezone

    cp = dict(template)
    cp["id"] = checkpoint_id
    cp["ts"] = datetime.now(timezone.utc).isoformat()
    return cp


def make_metadata(step: int) -> dict[str, Any]:
    return {
        "source": "input" if step % FILTER_EVERY == 0 else "loop",
        "step": step,
        "parents": {},
        "run_id": f"run-{step // 100}",
        "user": "bench",
    }


def config_for(thread_id: str, checkpoint_id: str | None = None, ns: str = "") -> Any:
    c: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def populate_plan(thread_id: str, n: int) -> Iterator[tuple[str, Any, Any, Any, str]]:
    """(checkpoint_id, put config, checkpoint-less args...) for a thread of n checkpoints.

    Yields (checkpoint_id, parent config, metadata, task_id, step) pieces; the caller builds the
    checkpoint from the template. Each checkpoint gets one put_writes of one task (2 writes),
    as a running graph would.
    """
    ids = checkpoint_ids(n)
    parent: str | None = None
    for step, cid in enumerate(ids):
        yield cid, config_for(thread_id, parent), make_metadata(step), f"task-{step:06d}", str(step)
        parent = cid


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]

"""A real graph: subgraph two levels deep, interrupt, resume in a new process, full history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

pytest.importorskip("langgraph.graph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from s3saver.langgraph import AsyncS3Saver, S3Saver
from tests.apps.graph_app import _summary, build
from tests.s3env import Endpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_app(endpoint: Endpoint, *args: str) -> dict[str, Any]:
    env = {**os.environ, **endpoint.client_env()}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.apps.graph_app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reference_run() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same two invocations on LangGraph's own in-memory saver: what S3 must reproduce."""
    graph = build().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "reference"}}
    first = _summary(graph.invoke({"log": ["start"]}, config))
    second = _summary(graph.invoke(Command(resume="yes"), config))
    return first, second


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_interrupt_in_nested_subgraph_resumes_in_a_new_process(
    endpoint: Endpoint, bucket: str, kind: str
) -> None:
    thread = f"graph-{uuid.uuid4().hex[:8]}"
    expected_first, expected_second = reference_run()
    first = run_app(endpoint, "start", kind, bucket, "lg", thread)
    assert first == expected_first
    assert first["interrupts"] == [{"question": "approve?", "seen": 3}]

    second = run_app(endpoint, "resume", kind, bucket, "lg", thread)
    assert second == expected_second
    assert second["interrupts"] == []
    assert "inner:answer=yes" in second["log"]
    assert second["log"][-1] == "outer:after"

    # The history, read back in this process with the other flavour of saver.
    saver_cls = S3Saver if kind == "async" else AsyncS3Saver
    options = {"endpoint_url": endpoint.url, "region_name": endpoint.region}
    async with saver_cls(bucket, "lg", **options) as saver:
        graph = build().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": thread}}
        history = [s async for s in graph.aget_state_history(config)]
        state = await graph.aget_state(config)
        assert state.values["log"][-1] == "outer:after"
        assert state.next == ()
        # Newest first, each one's parent is the next one, ending at the first input.
        ids = [s.config["configurable"]["checkpoint_id"] for s in history]
        assert ids == sorted(ids, reverse=True)
        for newer, older_id in zip(history, ids[1:], strict=False):
            assert newer.parent_config is not None
            assert newer.parent_config["configurable"]["checkpoint_id"] == older_id
        assert history[-1].parent_config is None
        assert history[-1].metadata["source"] == "input"
        steps = [s.metadata["step"] for s in history]
        assert steps == sorted(steps, reverse=True)
        # The subgraphs' checkpoints live in nested namespaces containing '|' and ':'.
        namespaces = set()
        async for tup in saver.alist({"configurable": {"thread_id": thread}}):
            namespaces.add(tup.config["configurable"]["checkpoint_ns"])
        nested = [ns for ns in namespaces if "|" in ns]
        assert nested, namespaces
        assert all(ns.startswith("middle:") and "|inner:" in ns for ns in nested)

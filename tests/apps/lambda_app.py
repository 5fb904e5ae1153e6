"""The serverless pattern: saver made at import time, ``asyncio.run`` once per invocation.

    python -m tests.apps.lambda_app async|sync BUCKET PREFIX THREAD INVOCATIONS

Each invocation runs a one-node graph that appends to the thread's state; the script prints one
JSON line per invocation. The S3 endpoint comes from the environment (AWS_ENDPOINT_URL_S3).
"""

from __future__ import annotations

import asyncio
import json
import operator
import sys
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from s3saver.langgraph import AsyncS3Saver, S3Saver

KIND, BUCKET, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]


class State(TypedDict):
    turns: Annotated[list[int], operator.add]


def _build() -> Any:
    builder = StateGraph(State)
    builder.add_node("agent", lambda s: {"turns": [len(s["turns"]) + 1]})
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder


# Module scope, as in a Lambda function: created once per container, reused by every invocation.
SAVER = S3Saver(BUCKET, PREFIX) if KIND == "sync" else AsyncS3Saver(BUCKET, PREFIX)
GRAPH = _build().compile(checkpointer=SAVER)


async def _run(event: dict[str, Any]) -> dict[str, Any]:
    config = {"configurable": {"thread_id": event["thread_id"]}}
    result = await GRAPH.ainvoke({"turns": []}, config)
    return {"turns": result["turns"]}


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    return asyncio.run(_run(event))


if __name__ == "__main__":
    thread, invocations = sys.argv[4], int(sys.argv[5])
    for _ in range(invocations):
        print(json.dumps(handler({"thread_id": thread})), flush=True)

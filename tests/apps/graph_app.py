"""A LangGraph app with a subgraph two levels deep and an interrupt, run as its own process.

    python -m tests.apps.graph_app start|resume async|sync BUCKET PREFIX THREAD

prints one JSON line with what the run returned (and the interrupt, if any).
The S3 endpoint comes from the standard environment (AWS_ENDPOINT_URL_S3 and credentials).
"""

from __future__ import annotations

import asyncio
import json
import operator
import sys
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from s3saver.langgraph import AsyncS3Saver, S3Saver


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def build() -> StateGraph:
    def ask(state: State) -> dict[str, Any]:
        answer = interrupt({"question": "approve?", "seen": len(state["log"])})
        return {"log": [f"inner:answer={answer}"]}

    def inner_after(state: State) -> dict[str, Any]:
        return {"log": ["inner:after"]}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_node("inner_after", inner_after)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", "inner_after")
    inner.add_edge("inner_after", END)

    middle = StateGraph(State)
    middle.add_node("middle_before", lambda s: {"log": ["middle:before"]})
    middle.add_node("inner", inner.compile())
    middle.add_edge(START, "middle_before")
    middle.add_edge("middle_before", "inner")
    middle.add_edge("inner", END)

    outer = StateGraph(State)
    outer.add_node("outer_before", lambda s: {"log": ["outer:before"]})
    outer.add_node("middle", middle.compile())
    outer.add_node("outer_after", lambda s: {"log": ["outer:after"]})
    outer.add_edge(START, "outer_before")
    outer.add_edge("outer_before", "middle")
    outer.add_edge("middle", "outer_after")
    outer.add_edge("outer_after", END)
    return outer


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    interrupts = [i.value for i in result.get("__interrupt__", ())]
    return {"log": result.get("log", []), "interrupts": interrupts}


def main(action: str, kind: str, bucket: str, prefix: str, thread: str) -> None:
    config = {"configurable": {"thread_id": thread}}
    payload: Any = {"log": ["start"]} if action == "start" else Command(resume="yes")
    if kind == "sync":
        with S3Saver(bucket, prefix) as saver:
            graph = build().compile(checkpointer=saver)
            result = graph.invoke(payload, config)
    else:

        async def run() -> dict[str, Any]:
            async with AsyncS3Saver(bucket, prefix) as saver:
                graph = build().compile(checkpointer=saver)
                return await graph.ainvoke(payload, config)

        result = asyncio.run(run())
    print(json.dumps(_summary(result)))


if __name__ == "__main__":
    main(*sys.argv[1:6])

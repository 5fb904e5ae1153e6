"""A system's runner: ``python -m benchmarks.runner`` with the system's own virtualenv's python.

Speaks JSON lines on stdin/stdout with the main process (``benchmarks.run``), so every system,
whatever its dependencies, runs the same workload code (``benchmarks.systems``) and reports the
same figures. Everything the system's libraries print goes to stderr.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import pickle
import sys
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from benchmarks.systems import SYSTEMS, NotSupported, System, Thread


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Runner:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.system: System | None = None

    @property
    def sys(self) -> System:
        assert self.system is not None, "init first"
        return self.system

    def thread(self, key: str) -> Thread:
        return self.sys.threads[key]

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "init":
            cls = SYSTEMS[cmd["system"]]
            self.system = cls(cmd["endpoint"], cmd["workdir"])
            info = await self.system.start()
            return {
                "info": info,
                "prune": cls.supports_prune,
                "graph": cls.supports_graph,
                "counted": cls.requests_counted,
            }
        if name == "open":
            return await self.open(cmd["key"], cmd["n"], cmd.get("capture", True))
        if name == "verify":
            th = self.thread(cmd["key"])
            self.sys.after_population(th)
            return await self.sys.verify(th)
        if name == "measure":
            return await self.measure(cmd)
        if name == "throughput":
            return await self.throughput(cmd)
        if name == "forget":
            th = self.sys.threads.pop(cmd["key"], None)
            if th is not None:
                await self.sys.release(th)
            return {}
        if name == "close":
            await self.sys.close()
            return {}
        raise ValueError(f"unknown command {name!r}")

    async def open(self, key: str, n: int, capture: bool) -> dict[str, Any]:
        t0 = time.perf_counter()
        th = await self.sys.open_thread(key)
        self.sys.threads[key] = th
        await self.sys.populate(th, n, capture=capture)
        records = self.sys.recorder.take()
        reply: dict[str, Any] = {"populate_s": time.perf_counter() - t0, "records": len(records)}
        if records:
            path = os.path.join(self.sys.workdir, f"inject-{self.sys.name}-{key}.pkl")
            with open(path, "wb") as f:  # noqa: ASYNC230 (not timed)
                pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)
            reply["inject"] = path
        return reply

    async def measure(self, cmd: dict[str, Any]) -> dict[str, Any]:
        th = self.thread(cmd["key"])
        workload = cmd["workload"]
        try:
            self.sys.op(workload, th)  # raises NotSupported early
        except NotSupported as e:
            return {"unsupported": str(e)}
        max_samples = int(cmd["max_samples"])
        min_samples = int(cmd.get("min_samples", 1))
        budget = float(cmd["budget_s"])
        memory = bool(cmd.get("memory"))
        counter = self.sys.counter

        def sample_once_sync() -> dict[str, Any]:
            op = self.sys.op(workload, th)
            if memory:
                gc.collect()
                _reset_peak()
                rss0 = _status_kib("VmRSS")
            counter.reset()
            t0 = time.perf_counter()
            op()
            dt = time.perf_counter() - t0
            return self._sample(dt, counter.snapshot(), rss0 if memory else None)

        async def sample_once_async() -> dict[str, Any]:
            op = self.sys.op(workload, th)
            if memory:
                gc.collect()
                _reset_peak()
                rss0 = _status_kib("VmRSS")
            counter.reset()
            t0 = time.perf_counter()
            await op()
            dt = time.perf_counter() - t0
            return self._sample(dt, counter.snapshot(), rss0 if memory else None)

        samples: list[dict[str, Any]] = []
        start = time.perf_counter()

        def more() -> bool:
            spent = time.perf_counter() - start
            if len(samples) < min_samples:
                return spent < 3 * budget or not samples
            return len(samples) < max_samples and spent < budget

        if self.sys.asynchronous:
            while more():
                samples.append(await sample_once_async())
        else:

            def loop() -> None:
                while more():
                    samples.append(sample_once_sync())

            await asyncio.to_thread(loop)
        return {"samples": samples}

    @staticmethod
    def _sample(dt: float, snap: dict[str, Any], rss0: int | None) -> dict[str, Any]:
        s: dict[str, Any] = {"s": dt, "req": snap["requests"], "rt": snap["round_trips"]}
        s["ops"] = snap["ops"]
        if rss0 is not None:
            s["peak_kib"] = max(0, _status_kib("VmHWM") - rss0)
        return s

    async def throughput(self, cmd: dict[str, Any]) -> dict[str, Any]:
        th = self.thread(cmd["key"])
        workload = cmd["workload"]
        n_ops = int(cmd["ops"])
        conc = int(cmd["concurrency"])
        try:
            if workload == "graph":
                ops = [
                    self.sys.graph_op(th, f"{th.thread_id}-c{uuid.uuid4().hex[:8]}")
                    for _ in range(n_ops)
                ]
            else:
                ops = [self.sys.op(workload, th) for _ in range(n_ops)]
        except NotSupported as e:
            return {"unsupported": str(e)}
        counter = self.sys.counter
        counter.reset()
        t0 = time.perf_counter()
        if self.sys.asynchronous:
            sem = asyncio.Semaphore(conc)

            async def one(op: Any) -> None:
                async with sem:
                    await op()

            await asyncio.gather(*(one(op) for op in ops))
        else:

            def run_all() -> None:
                with ThreadPoolExecutor(conc) as pool:
                    list(pool.map(lambda op: op(), ops))

            await asyncio.to_thread(run_all)
        dt = time.perf_counter() - t0
        snap = counter.snapshot()
        return {"ops": n_ops, "s": dt, "req": snap["requests"]}


async def amain() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr
    runner = Runner(out)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        try:
            reply = {"ok": True, **(await runner.handle(cmd))}
        except Exception as e:
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
        if cmd["cmd"] == "close":
            break


if __name__ == "__main__":
    asyncio.run(amain())

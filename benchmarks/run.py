"""The benchmark's one command: ``python -m benchmarks [--quick]``.

Builds the peers' virtualenvs if needed, starts its own moto server (S3 + DynamoDB) on
127.0.0.1, starts one runner per system, runs every workload at every thread length on every
system, interleaving the systems round by round, and writes ``benchmarks/RESULTS.md``,
``benchmarks/results.png`` and ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from benchmarks import common, venvs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"

# system -> (runner environment, label)
SYSTEM_ENV = {
    "s3saver-async": ("main", "s3saver AsyncS3Saver"),
    "s3saver-sync": ("main", "s3saver S3Saver (sync)"),
    "floor": ("main", "floor: raw aioboto3"),
    "objectstorage": ("objectstorage", "langgraph-checkpoint-objectstorage (S3 via fsspec)"),
    "dynamodb": ("aws", "langgraph-checkpoint-aws DynamoDBSaver"),
    "sqlite": ("sqlite", "AsyncSqliteSaver (local file)"),
}
ALL_SYSTEMS = list(SYSTEM_ENV)
S3_PEERS = ("objectstorage", "dynamodb")
# A destructive op predicted to need more sequential requests than this is not run: moto
# answers each in tens of ms on this machine (and DynamoDB's Query there slows with table size).
MAX_ROUND_TRIPS = 1000

IMPORTS = {
    "s3saver-async": "import s3saver.langgraph",
    "s3saver-sync": "import s3saver.langgraph",
    "floor": "import aioboto3",
    "objectstorage": "import langgraph_checkpoint_objectstorage, s3fs",
    "dynamodb": "from langgraph_checkpoint_aws import DynamoDBSaver",
    "sqlite": "from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver",
}


class Proc:
    """A child process spoken to in JSON lines."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.pending = ""
        self.log = log.open("w")
        self.p = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )

    def readline(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited (see {self.log.name})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def send(self, **cmd: Any) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        self.pending = str(cmd["cmd"])

    def recv(self) -> dict[str, Any]:
        reply = self.readline()
        if not reply.get("ok"):
            raise RuntimeError(f"{self.name}: {self.pending} failed: {reply.get('error')}")
        return reply

    def call(self, **cmd: Any) -> dict[str, Any]:
        self.send(**cmd)
        return self.recv()

    def stop(self) -> None:
        if self.p.poll() is None:
            try:
                if self.p.stdin:
                    self.p.stdin.close()
                self.p.wait(timeout=20)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                self.p.kill()
                self.p.wait()
        self.log.close()


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def python_for(system: str, peers: dict[str, Path]) -> str:
    env_name = SYSTEM_ENV[system][0]
    return sys.executable if env_name == "main" else str(peers[env_name])


def import_times(systems: list[str], peers: dict[str, Path], repeat: int) -> dict[str, Any]:
    """Median cold-import time of each package in a fresh interpreter (interpreter start-up
    excluded), plus ``import aioboto3`` in the project's environment as the yardstick."""
    code = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    out: dict[str, Any] = {}
    todo = {"aioboto3": (sys.executable, "import aioboto3")}
    for s in systems:
        if s in ("floor", "s3saver-sync"):
            continue
        todo[s] = (python_for(s, peers), IMPORTS[s])
    if "s3saver-async" in systems:
        todo["s3saver (store only)"] = (sys.executable, "import s3saver")
    for name, (py, stmt) in todo.items():
        times = []
        for _ in range(repeat):
            r = subprocess.run(
                [py, "-c", code.format(stmt=stmt)],
                cwd=ROOT,
                env=child_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode != 0:
                times = []
                out[name] = {"error": r.stderr.strip().splitlines()[-1:] or ["failed"]}
                break
            times.append(float(r.stdout.strip().splitlines()[-1]))
        if times:
            out[name] = {"stmt": stmt, "median_s": statistics.median(times), "n": len(times)}
    return out


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.lengths = (
            [int(x) for x in args.lengths.split(",")]
            if args.lengths
            else ([10, 100] if self.quick else [10, 1000, 10000])
        )
        self.max_samples = 4 if self.quick else 20
        self.min_samples = 2 if self.quick else 3
        self.budget = 0.8 if self.quick else 3.0
        self.rounds = 2 if self.quick else 3
        self.c32_ops = 32 if self.quick else 64
        self.results: dict[str, Any] = {"cells": [], "systems": {}, "errors": []}
        self.runners: dict[str, Proc] = {}
        self.server: Proc | None = None
        self.t_start = time.perf_counter()
        self.checkpoint: Any = None  # called after each thread length (partial results)

    def log(self, msg: str) -> None:
        t = time.perf_counter() - self.t_start
        print(f"[{t:7.1f}s] {msg}", flush=True)

    def destructive_samples(self, length: int) -> int:
        if self.quick:
            return 1
        return {10: 5, 1000: 2}.get(length, 1)

    # -- processes -------------------------------------------------------------------------
    def start(self, systems: list[str], peers: dict[str, Path]) -> None:
        WORK.mkdir(exist_ok=True)
        env = child_env()
        self.server = Proc(
            "server",
            [sys.executable, "-m", "benchmarks.server", "--latency-ms", str(self.args.latency_ms)],
            env,
            WORK / "server.log",
        )
        self.endpoint = self.server.readline()["url"]
        self.log(f"moto server at {self.endpoint}")
        for s in systems:
            proc = Proc(
                s, [python_for(s, peers), "-m", "benchmarks.runner"], env, WORK / f"runner-{s}.log"
            )
            try:
                info = proc.call(cmd="init", system=s, endpoint=self.endpoint, workdir=str(WORK))
            except RuntimeError as e:
                self.log(f"!! {s} unavailable: {e}")
                self.results["errors"].append({"system": s, "stage": "init", "error": str(e)})
                proc.stop()
                continue
            self.runners[s] = proc
            self.results["systems"][s] = {
                "label": SYSTEM_ENV[s][1],
                **info["info"],
                "prune": info["prune"],
                "graph": info["graph"],
                "counted": info["counted"],
            }
            self.log(f"{s}: {info['info'].get('package', '')}")

    def stop(self) -> None:
        for proc in self.runners.values():
            with contextlib.suppress(Exception):
                proc.call(cmd="close")
            proc.stop()
        if self.server is not None:
            try:
                assert self.server.p.stdin is not None
                self.server.p.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                self.server.p.stdin.flush()
            except OSError:
                pass
            self.server.stop()

    # -- threads ---------------------------------------------------------------------------
    def open_threads(self, systems: list[str], key: str, n: int) -> list[str]:
        """Populate the same thread on several systems at once (each runner in its own process),
        inject what they wrote, read each back; return the systems that succeeded."""
        sent, replies, ok = [], {}, []
        for s in systems:
            try:
                self.runners[s].send(cmd="open", key=key, n=n)
                sent.append(s)
            except OSError as e:
                self._open_failed(s, key, str(e))
        for s in sent:
            try:
                replies[s] = self.runners[s].recv()
            except RuntimeError as e:
                self._open_failed(s, key, str(e))
        for s, r in replies.items():
            try:
                if "inject" in r:
                    assert self.server is not None
                    self.server.call(cmd="inject", file=r["inject"])
                    os.remove(r["inject"])
                self.runners[s].call(cmd="verify", key=key)
                ok.append(s)
            except RuntimeError as e:
                self._open_failed(s, key, str(e))
        return [s for s in systems if s in ok]

    def _open_failed(self, system: str, key: str, error: str) -> None:
        self.log(f"!! {system} {key}: {error}")
        self.results["errors"].append({"system": system, "stage": f"open {key}", "error": error})

    # -- measuring -------------------------------------------------------------------------
    def cell(self, system: str, workload: str, length: int) -> dict[str, Any]:
        for c in self.results["cells"]:
            if (c["system"], c["workload"], c["length"]) == (system, workload, length):
                return dict(c)
        c = {"system": system, "workload": workload, "length": length, "samples": []}
        self.results["cells"].append(c)
        return c

    def _cell(self, system: str, workload: str, length: int) -> dict[str, Any]:
        for c in self.results["cells"]:
            if (c["system"], c["workload"], c["length"]) == (system, workload, length):
                return c  # type: ignore[no-any-return]
        c = {"system": system, "workload": workload, "length": length, "samples": []}
        self.results["cells"].append(c)
        return c

    def measure_interleaved(self, systems: list[str], workload: str, length: int, key: str) -> None:
        per_round = math.ceil(self.max_samples / self.rounds)
        spent: dict[str, float] = {}
        for r in range(self.rounds):
            order = systems[r % len(systems) :] + systems[: r % len(systems)]
            for s in order:
                c = self._cell(s, workload, length)
                if c.get("unsupported") or c.get("error"):
                    continue
                if r > 0 and spent.get(s, 0.0) > 2 * self.budget:
                    continue  # one slow sample already used this system's share
                t0 = time.perf_counter()
                try:
                    res = self.runners[s].call(
                        cmd="measure",
                        key=key,
                        workload=workload,
                        max_samples=per_round,
                        min_samples=1,
                        budget_s=self.budget / self.rounds,
                    )
                except RuntimeError as e:
                    c["error"] = str(e)
                    self.log(f"!! {s} {workload}@{length}: {e}")
                    continue
                spent[s] = spent.get(s, 0.0) + time.perf_counter() - t0
                if "unsupported" in res:
                    c["unsupported"] = res["unsupported"]
                    continue
                c["samples"].extend(res["samples"])

    def predicted(self, system: str, workload: str, length: int) -> tuple[float, float] | None:
        """(seconds, sequential round trips) of a destructive op at this length, extrapolated
        linearly from the previous length."""
        i = self.lengths.index(length)
        if i == 0:
            return None
        prev = self.lengths[i - 1]
        c = self._cell(system, workload, prev)
        if c.get("skipped"):
            return float("inf"), float("inf")  # too slow at the previous length already
        if not c["samples"]:
            return None
        f = length / prev
        t = float(statistics.median(x["s"] for x in c["samples"]))
        rt = float(statistics.median(x["rt"] for x in c["samples"]))
        return t * f, rt * f

    def throughput(self, system: str, workload: str, length: int, key: str) -> None:
        c = self._cell(system, workload, length)
        if c.get("unsupported") or c.get("error") or not c["samples"]:
            return
        med = statistics.median(x["s"] for x in c["samples"])
        n_ops = self.c32_ops if workload != "graph" else 32
        if med * n_ops / 4 > (10 if not self.quick else 2):
            c["c32_skipped"] = "too slow at concurrency 1 to run 32-way in the time budget"
            return
        try:
            r = self.runners[system].call(
                cmd="throughput", key=key, workload=workload, ops=n_ops, concurrency=32
            )
        except RuntimeError as e:
            c["c32_error"] = str(e)
            return
        if "unsupported" not in r:
            c["c32"] = r

    def run(self) -> None:
        systems = list(self.runners)
        for length in self.lengths:
            key = f"L{length}"
            self.log(f"== thread length {length}: populating")
            live = self.open_threads(systems, key, length)
            self.log(f"populated {length:,} checkpoints on {len(live)} systems")
            for workload in common.READ_WORKLOADS + common.WRITE_WORKLOADS:
                if workload == "graph" and length != self.lengths[0] and self.quick:
                    pass
                self.log(f"{workload} @ {length}")
                self.measure_interleaved(live, workload, length, key)
                for s in live:
                    if self.quick and workload not in ("put", "resume"):
                        continue  # the smoke run measures concurrency on two workloads only
                    if workload != "graph" or length == self.lengths[0]:
                        self.throughput(s, workload, length, key)
            for workload in common.DESTRUCTIVE_WORKLOADS:
                self.log(f"{workload} @ {length}")
                cap = 15.0 if self.quick else 100.0
                n_samples = self.destructive_samples(length)
                for i in range(n_samples):
                    todo = []
                    for s in live:
                        c = self._cell(s, workload, length)
                        if c.get("unsupported") or c.get("error") or c.get("skipped"):
                            continue
                        if workload == "prune" and not self.results["systems"][s]["prune"]:
                            c["unsupported"] = "no way to keep only the newest N checkpoints"
                            continue
                        guess = self.predicted(s, workload, length)
                        if guess is not None and (guess[0] > cap or guess[1] > MAX_ROUND_TRIPS):
                            c["skipped"] = (
                                "not run: skipped at the previous length already"
                                if guess[0] == float("inf")
                                else "not run: extrapolated linearly from the previous length it "
                                f"would take about {guess[0]:,.0f} s and {guess[1]:,.0f} "
                                "sequential round trips per sample"
                            )
                            continue
                        if i > 0 and guess is not None and guess[0] > cap / 3:
                            continue  # one sample of a slow one is enough
                        todo.append(s)
                    # At the longest length the last delete_thread sample deletes the main
                    # thread (done with it by now, and the ~300 checkpoints the write workloads
                    # added are 3 % of it); every other destructive sample gets a freshly
                    # populated thread.
                    reuse_main = (
                        workload == "delete_thread"
                        and i == n_samples - 1
                        and length == self.lengths[-1]
                        and length >= 10000
                    )
                    dkey = key if reuse_main else f"{key}-{workload[0]}{i}"
                    ready = todo if reuse_main else self.open_threads(todo, dkey, length)
                    for s in ready:
                        c = self._cell(s, workload, length)
                        try:
                            res = self.runners[s].call(
                                cmd="measure",
                                key=dkey,
                                workload=workload,
                                max_samples=1,
                                min_samples=1,
                                budget_s=0.0,
                                memory=True,
                            )
                        except RuntimeError as e:
                            c["error"] = str(e)
                            continue
                        finally:
                            self.runners[s].call(cmd="forget", key=dkey)
                        if "unsupported" in res:
                            c["unsupported"] = res["unsupported"]
                        else:
                            c["samples"].extend(res["samples"])
            for s in live:
                self.runners[s].call(cmd="forget", key=key)  # no-op if delete_thread used it
            if self.checkpoint is not None:
                self.checkpoint(length)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["moto"] = version("moto")
    except Exception:
        pass
    return info


def write_outputs(bench: Bench, args: argparse.Namespace, *, partial: int | None) -> None:
    """Write results.json, RESULTS.md and the plot; after each length too, so that a run cut
    short still leaves what it measured (marked as partial)."""
    from benchmarks import report

    bench.results["elapsed_s"] = time.perf_counter() - bench.t_start
    bench.results["partial_after"] = partial
    bench.results["finished_utc"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    done = bench.lengths if partial is None else bench.lengths[: bench.lengths.index(partial) + 1]
    bench.results["lengths"] = done
    with contextlib.suppress(OSError):
        bench.results["machine"]["loadavg_end"] = os.getloadavg()
    Path(args.json).write_text(json.dumps(bench.results, indent=1, default=str) + "\n")
    Path(args.out).write_text(report.render(bench.results, plot_name=Path(args.plot).name))
    report.plot(bench.results, Path(args.plot))


def main(argv: list[str] | None = None, stdout: TextIO = sys.stdout) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: thread lengths 10 and 100, few samples (~2 minutes)",
    )
    ap.add_argument(
        "--systems",
        default=",".join(ALL_SYSTEMS),
        help=f"comma-separated subset of {','.join(ALL_SYSTEMS)}",
    )
    ap.add_argument("--lengths", default="", help="comma-separated thread lengths")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"), help="where to write the report")
    ap.add_argument("--json", default=str(HERE / "results.json"), help="raw results")
    ap.add_argument("--plot", default=str(HERE / "results.png"), help="the plot")
    ap.add_argument("--note", default="", help="a line to put at the top of the report")
    ap.add_argument("--no-imports", action="store_true", help="skip the import-time figures")
    ap.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="fixed delay the server adds to every request (a model of S3 latency)",
    )
    args = ap.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in SYSTEM_ENV:
            ap.error(f"unknown system {s!r}")

    peers = venvs.ensure_all()
    bench = Bench(args)
    bench.results["machine"] = machine_info()
    bench.results["mode"] = "quick" if args.quick else "full"
    bench.results["lengths"] = bench.lengths
    bench.results["note"] = args.note
    bench.results["latency_ms"] = args.latency_ms
    try:
        bench.start(systems, peers)
        if not args.no_imports:
            bench.log("import times")
            bench.results["imports"] = import_times(
                list(bench.runners), peers, 1 if args.quick else 3
            )
        bench.checkpoint = lambda length: write_outputs(bench, args, partial=length)
        bench.run()
    finally:
        bench.stop()
    write_outputs(bench, args, partial=None)
    from benchmarks import report

    print(report.console_table(bench.results), file=stdout)
    print(f"\nwrote {args.out}, {args.plot}, {args.json}", file=stdout)
    return 0

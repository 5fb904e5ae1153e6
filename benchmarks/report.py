"""Turn the raw results (``results.json``) into RESULTS.md, the console table and the plot.

``python -m benchmarks.report [results.json]`` re-renders without re-running.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import common

HERE = Path(__file__).resolve().parent
TIMES = "\u00d7"  # multiplication sign
DASH = "\u2013"  # en dash
S3SAVER = ("s3saver-async", "s3saver-sync")
S3_PEERS = ("objectstorage", "dynamodb")
ORDER = ("s3saver-async", "s3saver-sync", "floor", "objectstorage", "dynamodb", "sqlite")
SHORT = {
    "s3saver-async": "s3saver async",
    "s3saver-sync": "s3saver sync",
    "floor": "floor (aioboto3)",
    "objectstorage": "objectstorage (fsspec)",
    "dynamodb": "DynamoDBSaver",
    "sqlite": "AsyncSqliteSaver",
}
# Workloads whose request count should not depend on thread length (prune/delete must touch
# every object of the thread).
LENGTH_FREE = ("put", "put_writes", "resume", "get", "list", "list_filter", "graph")


class Cell:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.system: str = raw["system"]
        self.workload: str = raw["workload"]
        self.length: int = raw["length"]
        self.samples: list[dict[str, Any]] = raw.get("samples", [])
        self.lat = [s["s"] for s in self.samples]

    @property
    def ok(self) -> bool:
        return bool(self.samples)

    @property
    def why_missing(self) -> str:
        if self.raw.get("unsupported"):
            return "n/a"
        if self.raw.get("skipped"):
            return "skipped"
        if self.raw.get("error"):
            return "error"
        return "—"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.lat) * 1000

    @property
    def p99_ms(self) -> float:
        return common.percentile(self.lat, 99) * 1000

    @property
    def c1(self) -> float:
        return len(self.lat) / sum(self.lat) if self.lat else float("nan")

    @property
    def c32(self) -> float | None:
        c = self.raw.get("c32")
        return c["ops"] / c["s"] if c else None

    def _stat(self, field: str) -> tuple[float, int, int]:
        vals = [s[field] for s in self.samples]
        return statistics.median(vals), min(vals), max(vals)

    @property
    def req(self) -> tuple[float, int, int]:
        return self._stat("req")

    @property
    def rt(self) -> tuple[float, int, int]:
        return self._stat("rt")

    @property
    def peak_mib(self) -> float | None:
        peaks = [s["peak_kib"] for s in self.samples if "peak_kib" in s]
        return max(peaks) / 1024 if peaks else None

    @property
    def op_mix(self) -> dict[str, int]:
        return self.samples[0].get("ops", {}) if self.samples else {}


def _fmt_count(stat: tuple[float, int, int]) -> str:
    med, lo, hi = stat
    m = f"{med:g}"
    return m if lo == hi else f"{m} ({lo}{DASH}{hi})"


def _ms(v: float) -> str:
    if v != v:  # nan
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _ops(v: float | None) -> str:
    if v is None or v != v:
        return "—"
    return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"


class Results:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.cells = {(c["system"], c["workload"], c["length"]): Cell(c) for c in raw["cells"]}
        self.lengths: list[int] = raw["lengths"]
        present = {c["system"] for c in raw["cells"]}
        self.systems = [s for s in ORDER if s in present]

    def get(self, system: str, workload: str, length: int) -> Cell | None:
        c = self.cells.get((system, workload, length))
        return c if c is not None and c.ok else None

    def counted(self, system: str) -> bool:
        return bool(self.raw["systems"].get(system, {}).get("counted", True))


# ---------------------------------------------------------------------------------------------
# targets


def base_length(r: Results, workload: str) -> int:
    """The length a workload's growth is measured from: the filtered list needs a thread with
    at least 10 matches (every 10th checkpoint matches), so it starts at the second length."""
    if workload == "list_filter" and len(r.lengths) > 2:
        return r.lengths[1]
    return r.lengths[0]


def targets(r: Results) -> list[tuple[str, str, str]]:
    """[(target, verdict, evidence)] for s3saver (each of its two savers)."""
    out: list[tuple[str, str, str]] = []
    small, big = r.lengths[0], r.lengths[-1]
    savers = [s for s in S3SAVER if s in r.systems]
    if not savers:
        return [("all", "not measured", "s3saver's LangGraph savers were not available")]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    for s in savers:
        name = SHORT[s]
        for workload, limit, label in (
            ("put", 1, "put: 1 round trip"),
            ("resume", 2, "resume: ≤ 2 round trips"),
            ("list", 2, "list(limit=10): ≤ 2 round trips"),
        ):
            worst = [(n, c.rt[2]) for n in r.lengths if (c := r.get(s, workload, n)) is not None]
            if not worst:
                out.append((f"{name} {label}", "not measured", ""))
                continue
            ok = all(rt <= limit for _, rt in worst)
            out.append(
                (f"{name} {label}", verdict(ok), ", ".join(f"{rt} at {n:,}" for n, rt in worst))
            )
        bad = []
        checked = 0
        for w in LENGTH_FREE:
            a, b = r.get(s, w, base_length(r, w)), r.get(s, w, big)
            if a and b:
                checked += 1
                if a.req[0] != b.req[0]:
                    bad.append(f"{w}: {a.req[0]:g} → {b.req[0]:g}")
        out.append(
            (
                f"{name}: same request count at {small:,} and {big:,} checkpoints",
                verdict(not bad) if checked else "not measured",
                "; ".join(bad) or f"{checked} workloads identical",
            )
        )
        bad = []
        checked = 0
        for w in LENGTH_FREE:
            a, b = r.get(s, w, base_length(r, w)), r.get(s, w, big)
            if a and b:
                checked += 1
                ratio = b.median_ms / a.median_ms
                if ratio > 1.2:
                    bad.append(f"{w} {TIMES}{ratio:.2f}")
        out.append(
            (
                f"{name}: latency at {big:,} ≤ 1.2 {TIMES} latency at {small:,}",
                verdict(not bad) if checked else "not measured",
                "; ".join(bad) or f"{checked} workloads within",
            )
        )
        bad = []
        checked = 0
        for (sys_, w, n), c in r.cells.items():
            if sys_ != s or not c.ok:
                continue
            f = r.get("floor", w, n)
            if f is None:
                continue
            checked += 1
            ratio = c.median_ms / f.median_ms
            if ratio > 1.15:
                bad.append(f"{w}@{n:,} {TIMES}{ratio:.2f}")
        out.append(
            (
                f"{name}: time ≤ 1.15 {TIMES} the raw-aioboto3 floor",
                verdict(not bad) if checked else "not measured",
                "; ".join(bad) or f"{checked} cells within",
            )
        )
        bad = []
        checked = 0
        for (sys_, w, n), c in r.cells.items():
            if sys_ != s or not c.ok:
                continue
            for peer in S3_PEERS:
                p = r.get(peer, w, n)
                if p is None:
                    continue
                checked += 1
                if c.median_ms >= p.median_ms:
                    bad.append(
                        f"{w}@{n:,} vs {SHORT[peer]} ({_ms(c.median_ms)} vs {_ms(p.median_ms)} ms)"
                    )
        out.append(
            (
                f"{name}: faster than every S3 peer on every workload",
                verdict(not bad) if checked else "not measured",
                "; ".join(bad) or f"{checked} comparisons won",
            )
        )
        for w in ("prune", "delete_thread"):
            peaks = [
                (n, c.peak_mib)
                for n in r.lengths
                if (c := r.get(s, w, n)) is not None and c.peak_mib is not None
            ]
            if len(peaks) < 2:
                out.append((f"{name}: {w} memory bounded", "not measured", ""))
                continue
            # bounded = the peak does not grow with the thread beyond page-sized noise
            base = peaks[-2][1] or 0.0
            ok = (peaks[-1][1] or 0.0) <= max(1.5 * base, base + 8.0)
            out.append(
                (
                    f"{name}: {w} memory bounded (page-sized)",
                    verdict(ok),
                    ", ".join(f"{p:.1f} MiB at {n:,}" for n, p in peaks),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# markdown


def _headline(r: Results) -> list[str]:
    big = r.lengths[-1]
    cols = [s for s in r.systems]
    lines = [
        f"Median latency per operation at **{big:,} checkpoints** in the thread, with S3/DynamoDB "
        "requests / sequential round trips per operation (counted by hooking the client).",
        "",
        "| workload | " + " | ".join(SHORT[s] for s in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for w in common.WORKLOADS:
        row = [common.WORKLOAD_TITLES[w]]
        for s in cols:
            c = r.get(s, w, big)
            if c is None:
                cc = r.cells.get((s, w, big))
                row.append(cc.why_missing if cc else "—")
                continue
            cnt = f"{_fmt_count(c.req)} req / {_fmt_count(c.rt)} RT" if r.counted(s) else "local"
            row.append(f"{_ms(c.median_ms)} ms<br>{cnt}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _workload_table(r: Results, w: str) -> list[str]:
    mem = w in common.DESTRUCTIVE_WORKLOADS
    head = [
        "system",
        "length",
        "n",
        "median ms",
        "p99 ms",
        "ops/s c=1",
        "ops/s c=32",
        "requests/op",
        "round trips/op",
        f"{TIMES} floor",
    ]
    if mem:
        head.append("peak MiB")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for s in r.systems:
        for n in r.lengths:
            cell = r.cells.get((s, w, n))
            if cell is None:
                continue
            if not cell.ok:
                if cell.raw.get("unsupported") and n == r.lengths[0]:
                    notes.append(f"{SHORT[s]}: not supported ({cell.raw['unsupported']}).")
                elif cell.raw.get("skipped"):
                    notes.append(f"{SHORT[s]} at {n:,}: {cell.raw['skipped']}.")
                elif cell.raw.get("error"):
                    notes.append(f"{SHORT[s]} at {n:,}: error: {cell.raw['error'][:200]}")
                continue
            f = r.get("floor", w, n)
            ratio = f"{cell.median_ms / f.median_ms:.2f}" if f and s != "floor" else "—"
            counted = r.counted(s)
            row = [
                SHORT[s],
                f"{n:,}",
                str(len(cell.lat)),
                _ms(cell.median_ms),
                _ms(cell.p99_ms),
                _ops(cell.c1),
                _ops(cell.c32),
                _fmt_count(cell.req) if counted else "local",
                _fmt_count(cell.rt) if counted else "local",
                ratio,
            ]
            if mem:
                row.append(f"{cell.peak_mib:.1f}" if cell.peak_mib is not None else "—")
            lines.append("| " + " | ".join(row) + " |")
    mixes = []
    for s in r.systems:
        c = r.get(s, w, r.lengths[-1])
        if c and c.op_mix and r.counted(s):
            mix = ", ".join(f"{k} {v}" for k, v in sorted(c.op_mix.items()))
            mixes.append(f"{SHORT[s]}: {mix}")
    if mixes:
        lines += ["", f"Requests of one operation at {r.lengths[-1]:,}: " + "; ".join(mixes) + "."]
    if notes:
        lines += [""] + [f"- {x}" for x in notes]
    return lines


def render(raw: dict[str, Any], plot_name: str = "results.png") -> str:
    r = Results(raw)
    m = raw.get("machine", {})
    out: list[str] = ["# s3saver benchmarks", ""]
    if raw.get("note"):
        out += [f"> {raw['note']}", ""]
    if raw.get("partial_after") is not None:
        out += [
            f"> **Partial run:** these results stop after thread length "
            f"{raw['partial_after']:,}; the run did not finish.",
            "",
        ]
    if raw.get("latency_ms"):
        out += [
            f"> **Modelled network latency:** the server waited {raw['latency_ms']:g} ms before "
            "handling every request (`--latency-ms`), so that concurrent requests overlap and "
            "sequential ones add up as they do against a real S3 region.",
            "",
        ]
    out += [
        f"Run: {raw.get('finished_utc') or time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"mode **{raw.get('mode')}**, "
        f"thread lengths {', '.join(f'{n:,}' for n in r.lengths)}, "
        f"{raw.get('elapsed_s', 0) / 60:.1f} minutes. Reproduce with `python -m benchmarks` "
        "(`--quick` for a two-minute smoke run); see [benchmarks/README.md](README.md).",
        "",
        "Everything ran in one process tree on one 2-core machine against one local moto server "
        f"(moto {m.get('moto', '?')}; S3 and DynamoDB on 127.0.0.1). Absolute numbers are "
        "moto's, not AWS's: a real S3 request costs 10-50 ms, so **the request and round-trip "
        "counts are the portable result**, and the latency ratios between systems measured in "
        "the same run are the second one.",
        "",
        "## Headline",
        "",
        *_headline(r),
        "",
        f"![latency and requests vs thread length]({plot_name})",
        "",
        "## Targets (s3saver)",
        "",
        "| target | verdict | evidence |",
        "|---|---|---|",
    ]
    for t, v, e in targets(r):
        out.append(f"| {t} | {v} | {e} |")
    analysis = HERE / "analysis.md"
    if analysis.exists() and not raw.get("latency_ms"):
        out += ["", analysis.read_text().rstrip()]
    out += ["", "## Per workload", ""]
    for w in common.WORKLOADS:
        out += [f"### {common.WORKLOAD_TITLES[w]}", "", *_workload_table(r, w), ""]
    imps = raw.get("imports", {})
    if imps:
        out += [
            "## Import time",
            "",
            "Median wall time of the import statement in a fresh interpreter (start-up excluded).",
            "",
            f"| package | statement | seconds | {TIMES} `import aioboto3` |",
            "|---|---|---|---|",
        ]
    base = imps.get("aioboto3", {}).get("median_s")
    for name, d in imps.items():
        if "median_s" not in d:
            out.append(f"| {SHORT.get(name, name)} | — | error | — |")
            continue
        ratio = f"{d['median_s'] / base:.2f}" if base else "—"
        out.append(f"| {SHORT.get(name, name)} | `{d['stmt']}` | {d['median_s']:.3f} | {ratio} |")
    out += ["", "## Systems", ""]
    for s in r.systems:
        info = raw["systems"].get(s, {})
        out.append(f"- **{SHORT[s]}**: {info.get('label', '')}; {info.get('package', '')}")
    if raw.get("errors"):
        out += ["", "Errors during the run:", ""]
        out += [f"- {e['system']} ({e['stage']}): {e['error'][:300]}" for e in raw["errors"]]
    out += [
        "",
        *METHOD.format(
            cpu=m.get("cpu", "?"),
            cpus=m.get("cpus", "?"),
            python=m.get("python", "?"),
            load0=_load(m.get("loadavg_start")),
            load1=_load(m.get("loadavg_end")),
        ).splitlines(),
    ]
    return "\n".join(out).rstrip() + "\n"


def _load(v: Any) -> str:
    return ", ".join(f"{x:.1f}" for x in v) if v else "?"


METHOD = """## Method

**Systems.** s3saver's two LangGraph savers (`AsyncS3Saver`; `S3Saver`, the sync twin, called
from worker threads as LangGraph does); *the floor*: raw aioboto3 doing the fewest requests for
the same operation on the same newest-first key layout (checkpoint key = inverted id, each
checkpoint followed by its writes objects; `put` = 1 PutObject, `put_writes` = 1 PutObject,
resume = 1 LIST + parallel GETs, get by id = GET ‖ LIST of its writes then GETs, list = LIST +
parallel GETs, prune/delete = LIST pages with DeleteObjects of each page overlapping the next
LIST), with LangGraph's serde but no index, no conditional writes, no markers, no validation;
langgraph-checkpoint-objectstorage on s3fs; langgraph-checkpoint-aws's DynamoDBSaver on moto's
DynamoDB; AsyncSqliteSaver on a local file. Peers run in their own virtualenvs (pinned in
`benchmarks/peers/*/requirements.txt`, built by the benchmark itself) and every system is driven
by the same workload code in a runner subprocess over JSON lines.

**Data.** Every checkpoint is a copy of the final checkpoint of a real run of the benchmark graph
(~2.3 KB: a 2 KB text channel, counters, versions), under a fresh time-ordered (uuid6) id, with
metadata `source`/`step`/`run_id`/`parents` (every 10th has `source: "input"`, which the filtered
list looks for) and one `put_writes` of one task with 2 writes, as a running graph produces. The
LangGraph workload resumes the same thread: a 10-node graph whose 5th node calls `interrupt()`,
then `Command(resume=...)`; one sample = both invocations.

**Threads.** Each thread lives in its own bucket (DynamoDB: table; SQLite: file), because moto's
LIST and Query scan the whole bucket/table on every call: sharing one would make every system
pay for the others' objects. Long threads are populated by running each system's own
`put`/`put_writes` code with its client answered locally and recording what it writes, then
storing those exact objects/items into moto's backend directly (see `benchmarks/capture.py`),
and reading the thread back through the server before measuring. Population is not measured.

**Sampling.** Per (workload, length) the systems are interleaved round by round (3 rounds,
rotating the order) so that load changes on this shared machine hit all of them alike; each
system gets at most 20 samples and about 3 s per cell (fewer when one sample already takes
longer; prune/delete: 5 samples at 10, 2 at 1,000, 1 at 10,000, each on a freshly populated
thread, except that the last delete_thread sample deletes the measured thread, which by then
also holds the ~300 checkpoints the put and graph workloads added). A prune/delete
predicted (linearly from the previous length) to take over 100 s or over 1,000 sequential
round trips is not run and says so. p99 over ≤ 20 samples is close to the maximum.
Throughput at concurrency 1 = samples / total time; at concurrency 32 = 64 operations (32
graph runs, each on a new thread, at the first length only) issued with at most 32 in flight,
skipped where one operation is so slow that the batch would not fit the time budget. Peak
memory = rise of the runner's peak RSS (VmHWM, reset before the operation via
`/proc/self/clear_refs`) over its RSS before it.

**Counting.** Every HTTP attempt of the system's botocore/aiobotocore client fires `before-send`
(counted as a request); `needs-retry` fires when its response is back. A *round trip* starts
whenever a request is sent while none of the operation's requests is in flight: concurrent
requests share one round trip; a request that waits for an earlier answer starts a new one. It is
the number of network latencies an operation pays in sequence, which is what dominates on a real
S3 (10-50 ms each) and is independent of this machine's speed.

**Server.** moto in its own process (`benchmarks/server.py`). moto 5.2.5 re-parses every
timestamp with dateutil when it renders a response (about 1 ms per listed key); the server
memoizes that pure function (responses byte-identical), which brings a 1,000-key LIST page from
~1.4 s to ~0.3 s here. Even so moto's LIST costs roughly 0.3 ms per key returned plus a scan of
the whole bucket, where S3's cost barely depends on either: on moto, listing-heavy operations look
slower, relative to GETs and PUTs, than on S3.

**Machine.** {cpus} cores ({cpu}), Python {python}, shared with other work: load average
{load0} at the start, {load1} at the end. Between runs medians move by ±30 %; compare systems
within one run.
"""


def console_table(raw: dict[str, Any]) -> str:
    r = Results(raw)
    big = r.lengths[-1]
    cols = r.systems
    w0 = 14
    head = f"{'workload @' + format(big, ','):<{w0}}" + "".join(
        f"{SHORT[s][:22]:>24}" for s in cols
    )
    lines = [head, "-" * len(head)]
    for w in common.WORKLOADS:
        row = f"{w:<{w0}}"
        for s in cols:
            c = r.get(s, w, big)
            if c is None:
                cc = r.cells.get((s, w, big))
                row += f"{cc.why_missing if cc else '—':>24}"
                continue
            cnt = f"{c.req[0]:g}r/{c.rt[0]:g}rt" if r.counted(s) else "local"
            row += f"{_ms(c.median_ms) + ' ms ' + cnt:>24}"
        lines.append(row)
    lines.append("")
    for t, v, e in targets(r):
        lines.append(f"{v.replace('*', ''):>12}  {t}: {e}")
    return "\n".join(lines)


def plot(raw: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    r = Results(raw)
    panels = ("resume", "list", "put", "delete_thread")
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 7.5))
    for j, w in enumerate(panels):
        for s in r.systems:
            xs, lat, req = [], [], []
            for n in r.lengths:
                c = r.get(s, w, n)
                if c is None:
                    continue
                xs.append(n)
                lat.append(c.median_ms)
                req.append(c.req[0] if r.counted(s) else None)
            if not xs:
                continue
            style = "-o" if s in S3SAVER else ("--s" if s == "floor" else ":^")
            axes[0][j].plot(xs, lat, style, label=SHORT[s])
            if r.counted(s):
                axes[1][j].plot(xs, req, style, label=SHORT[s])
        for i, ylabel in enumerate(("median latency (ms)", "requests per operation")):
            ax = axes[i][j]
            ax.set_xscale("log")
            if i == 0:
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0)
            ax.set_xticks(r.lengths)
            ax.set_xticklabels([f"{n:,}" for n in r.lengths])
            ax.set_xlabel("checkpoints in the thread")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", alpha=0.3)
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        axes[0][j].set_title(common.WORKLOAD_TITLES[w], fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.suptitle("s3saver vs the floor and peers on moto (lower is better)")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    data = json.loads(src.read_text())
    (HERE / "RESULTS.md").write_text(render(data))
    plot(data, HERE / "results.png")
    print(console_table(data))

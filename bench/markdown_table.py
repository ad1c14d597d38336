"""The benchmark's ``latest.md``: the figures of ``latest.json`` as tables, each goal marked met or not.

Kept apart from bench/run.py, which measures (it imports ``render_markdown`` from here).
``python bench/markdown_table.py --readme [latest.json]`` puts the table of a finished run into the
README between the ``bench-table`` markers, the one way that section is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench-table -->\n", "<!-- /bench-table -->"


def replace_readme_table(readme: str, table: str) -> str:
    """``readme`` with the text between the bench-table markers replaced by ``table``."""
    head, found, rest = readme.partition(START)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"README: the markers {START.strip()} and {END} are missing")
    return head + START + table.rstrip("\n") + "\n" + END + tail


def render_markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"Benchmark {doc['profile']} run, {doc['date']}, {m['cpus']} cores ({m['cpu_model']}), Python "
        f"{m['python']}, pinned: {doc['pinned']}. CPU = generator CPU microseconds per request (median of "
        f"{doc['settings']['rounds']} rounds of {doc['settings']['seconds']:g} s at concurrency "
        f"{doc['settings']['concurrency']}); ratios are per round, median [min-max].{_busy(doc)}",
        "",
        *_throughput_rows(doc),
        "",
        *_goal_rows(doc),
        *_notes(doc),
        *_stream_and_master_rows(doc),
    ]
    return "\n".join(lines) + "\n"


def _throughput_rows(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| protocol | contender | requests/s | CPU us/request | failures | ours / this |",
        "|---|---|---|---|---|---|",
    ]
    for protocol, data in doc["protocols"].items():
        for name, fig in data["median"].items():
            ratio = data["ratios"].get(f"ours/{name}")
            shown = f"{ratio['median']:.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}]" if ratio else "-"
            lines.append(
                f"| {protocol} | {name} | {fig['rps'] or 0:,.0f} | {fig['cpu_us_per_request'] or 0:.1f} | "
                f"{fig['failures']} | {shown} |"
            )
    return lines


def _busy(doc: dict[str, Any]) -> str:
    load = doc.get("load_average")
    return (
        f" Load average at the start {load[0]:.1f} (a shared, busy machine: compare ratios, not absolutes)."
        if load
        else ""
    )


def _stream_and_master_rows(doc: dict[str, Any]) -> list[str]:
    """LLM streams (CPU per token vs aiohttp) and the master's cost per worker report."""
    lines = []
    if doc.get("sse"):
        lines += ["", "| LLM streams | contender | tokens/s | CPU us/token | failures | ours / aiohttp |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for streams, data in doc["sse"].items():
            ratio = data.get("ratio")
            shown = f"{ratio['median']:.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}]" if ratio else "-"
            for name, runs in data["runs"].items():
                rate = _median([r.get("tokens_per_s") for r in runs]) or 0
                cost = _median([r.get("cpu_us_per_token") for r in runs]) or 0
                fails = sum(r.get("failures", 0) for r in runs)
                lines.append(
                    f"| {streams} | {name} | {rate:,.0f} | {cost:.1f} | {fails} | {shown if name == 'ours' else '-'} |"
                )
    master = doc.get("master") or {}
    deltas, real = master.get("deltas") or {}, master.get("real_master") or {}
    if "master_ms_per_report" in deltas:
        lines += ["", f"Master: {deltas['master_ms_per_report']:.2f} ms CPU to decode and merge one worker report "
                      f"of {deltas['endpoints']} endpoints ({deltas['requests_per_report']:,} requests, histograms "
                      f"included, {deltas['bytes_per_report']:,} bytes); the worker spends "
                      f"{deltas['worker_encode_ms']:.2f} ms "
                      f"encoding it. One master core serves about {deltas['workers_served']:,} such workers at "
                      f"Locust's {deltas['report_interval_s']:g} s report interval."]  # fmt: skip
    if "master_ms_per_report" in real:
        few, many = real["runs"]
        lines.append(f"A real master, measured with {few['workers']} and then {many['workers']} low-load workers "
                     f"(every REST endpoint; steady windows of {few['span_s']:g} and {many['span_s']:g} s, start-up "
                     f"and summary excluded): {100 * few['cpu_per_s']:.1f} % and {100 * many['cpu_per_s']:.1f} % of "
                     f"a core. {_slope(real)} Charging all of the master's CPU to "
                     f"its {many['workers']} workers: at most {real['at_most_ms_per_report']:.2f} ms per report, "
                     f"so one core serves at least {real['workers_per_core_at_least'] or 0:,} such "
                     f"workers.")  # fmt: skip
    elif "error" in real:
        lines.append(f"A real master: {real['error']}.")
    rows = doc.get("extra_goals") or []
    if rows:
        lines += ["", "| goal | limit | measured | met |", "|---|---|---|---|"]
        lines += [f"| {g['goal']} | {g['limit']} | {g['measured']} | {'yes' if g['met'] else 'no'} |" for g in rows]
    return lines


def _slope(real: dict[str, Any]) -> str:
    """What each added worker cost the master, or that it was below what 10 ms CPU ticks resolve."""
    slope, resolution = real["master_ms_per_report"], real.get("resolution_ms_per_report", 0.0)
    if abs(slope) <= resolution:
        return (f"What each added worker cost it was below this measurement's resolution ({resolution:.2f} ms per "
                f"3 s report, from 10 ms CPU ticks).")  # fmt: skip
    return f"Each added worker cost it {slope:.2f} ms per 3 s report (heartbeats included)."


def _median(values: list[Any]) -> float | None:
    present = sorted(v for v in values if v is not None)
    return present[len(present) // 2] if present else None


def _goal_rows(doc: dict[str, Any]) -> list[str]:
    """One row per goal of the issue: CPU ratios, latency fidelity, WebSocket memory, scale-out."""
    lines = ["| goal | limit | measured | met |", "|---|---|---|---|"]
    for g in doc["goals"]:
        lines.append(
            f"| {g['protocol']}: ours / {g['against']} | <= {g['limit']:.2f} | {g['median']:.3f} | "
            f"{'yes' if g['met'] else 'no'} |"
        )
    for f in doc.get("fidelity", []):
        lines.append(
            f"| p50 - {f['delay_ms']} ms server delay | <= 2 ms | {f['p50_minus_delay_ms']:.2f} ms "
            f"(raw client {f['raw_p50_minus_delay_ms']:.2f}) | "
            f"{'yes' if abs(f['p50_minus_delay_ms']) <= 2 else 'no'} |"
        )
    ws = doc.get("memory", {}).get("websocket", {})
    if "mb_per_1000" in ws:
        measured = ws["connected"] >= 10_000 or (ws["held_within_limit"] or 0) < ws["connected"]
        held = (ws["held_within_limit"] if measured else ws.get("extrapolated_within_limit")) or 0
        how = f"held, {ws['connected']:,} connected" if measured else f"extrapolated from {ws['connected']:,}"
        lines.append(
            f"| WebSocket users in 200 MiB | >= 10,000 | {held:,} ({how}; {ws['mb_per_1000']:.1f} MB per 1,000) | "
            f"{'yes' if held >= 10_000 else 'no'} |"
        )
    scale = doc.get("scale_out") or {}
    if scale.get("ratio"):
        met = "yes" if scale["ratio"] >= 1.8 else "no"
        lines.append(f"| --workers 2 / one worker | >= 1.80 | {scale['ratio']:.2f} | {met} |")
    return lines


def _notes(doc: dict[str, Any]) -> list[str]:
    """Figures without a goal: Socket.IO memory, and HTTP against nginx (the ceiling no client can pass)."""
    lines = []
    sio = doc.get("memory", {}).get("socketio", {})
    if "mb_per_1000" in sio:
        lines += [
            "",
            f"Socket.IO: {sio['mb_per_1000']:.1f} MB per 1,000 idle connected users ({sio['connected']} measured).",
        ]
    c = doc["ceiling"]
    if "skipped" in c:
        lines.append(f"HTTP ceiling (nginx + wrk): skipped, {c['skipped']}.")
    else:
        lines.append(
            f"HTTP against nginx: wrk {c['wrk_rps'] or 0:,.0f}/s (the ceiling); raw loop {c['raw_rps'] or 0:,.0f}/s, "
            f"ours {c['ours_rps'] or 0:,.0f}/s ({c['ours_cpu_us_per_request'] or 0:.1f} us/request), FastHttpUser "
            f"{c['fasthttp_rps'] or 0:,.0f}/s ({c['fasthttp_cpu_us_per_request'] or 0:.1f} us/request)."
        )
    return lines + _grpc_layer_rows(doc)


def _grpc_layer_rows(doc: dict[str, Any]) -> list[str]:
    """Where the gRPC ratio comes from: the gevent floor against the sync client, then each timing layer."""
    layers = doc.get("grpc_layers") or {}
    grpc = (doc.get("protocols") or {}).get("grpc", {}).get("median", {})
    if "ratio_to_raw" not in layers:
        return [f"gRPC timing layers: {layers['error'][-200:]}"] if "error" in layers else []
    us, ratio = layers["cpu_us_per_call"], layers["ratio_to_raw"]
    lines = [f"gRPC timing layers, one process, switched every 0.75 s ({layers['rounds']} rounds): a plain stub "
             f"{us['raw']:.1f} us/call; Locust's documented interceptor {ratio['interceptor']:.2f}x that; our timed "
             f"channel {ratio['ours']:.2f}x."]  # fmt: skip
    raw, sync = (grpc.get(k, {}).get("cpu_us_per_request") for k in ("raw", "sync"))
    if raw and sync:
        lines.append(f"The gevent loop itself costs {raw / sync:.2f}x the plain sync client (grpcio hands every "
                     f"blocking wait to gevent's threadpool), so ours / sync cannot go below that.")  # fmt: skip
    return lines


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--readme":
        print("usage: python bench/markdown_table.py --readme [bench/results/latest.json]", file=sys.stderr)
        return 2
    source = Path(argv[1]) if len(argv) > 1 else ROOT / "bench" / "results" / "latest.json"
    readme = ROOT / "README.md"
    table = render_markdown(json.loads(source.read_text(encoding="utf-8")))
    readme.write_text(replace_readme_table(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

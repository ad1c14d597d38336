"""The run summary: one JSON document that every report and verdict is made from.

Schema ``load_tests.core.summary/1`` (all times in milliseconds, rates per second):

- ``schema``, ``partial`` (the run was interrupted before its scenario ended), ``started_at``,
  ``ended_at``, ``duration_s``, ``scenario`` (name, profile, stages), ``test_types``, ``services``,
  ``environment`` (harness, Python, Locust versions, host, git commit);
- ``total``, ``protocols.<protocol>`` and ``endpoints[]`` rows, each with ``requests``, ``failures``,
  ``failures_by_type``, ``no_reply``, ``rps``, ``error_rate_pct``, ``min_ms``, ``avg_ms``, ``max_ms``,
  ``p50_ms`` ... ``p99_ms``, ``p99_9_ms`` and ``histogram`` (HdrHistogram, base64, microseconds) so
  summaries can be merged exactly; endpoint rows add ``protocol``, ``request_type`` and ``name``;
  stream rows add ``stream`` (``messages``, ``gap_p50_ms``, ``gap_p95_ms``, ``gap_max_ms``); ``total``
  and ``protocols`` leave out facet rows (time to first message), which are not extra requests;
- ``timeline[]``: per second ``t_s``, ``stage``, ``users``, ``requests``, ``failures``, ``rps``,
  ``failures_per_s``, ``p50_ms``, ``p95_ms`` of all requests; ``endpoint_timeline[]``: every 5 s
  ``t_s``, ``users`` and per endpoint (``"POST /predict"``) ``rps``, ``failures_per_s``, ``p50_ms``,
  ``p95_ms`` of that window;
- ``resources``: ``interval_s``, ``series`` ({name: [[t_s, value], ...]}: ``generator.<process>.cpu_percent``
  and ``.rss_mb``, ``target.cpu_percent``/``.rss_mb``, ``metrics.<scraped name>``, ``gpu<i>.*``), ``stats``
  (min, avg, max, last, samples per series), ``generators[]`` (name, role, pid, host, requests, failures,
  status, lost_at_s), ``target``, ``metrics`` (url, kinds, errors) and ``gpu`` (available, reason, devices);
  ``workers``: ``count`` and ``lost[]`` in a master/worker run, else null (see load_tests/engine/resources.py);
- ``thresholds``: ``passed`` and ``verdicts[]`` (scope, metric, limit, actual, passed, reason).
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.recorder import PERCENTILES, EndpointRecord, Recorder, new_histogram, summed
from load_tests.core.request_types import is_facet
from load_tests.core.thresholds import Verdict

SCHEMA = "load_tests.core.summary/1"
HARNESS_VERSION = "0.1.0"


def _pct_key(p: float) -> str:
    return f"p{p:g}_ms".replace(".", "_")


def _sum(histograms: list[HdrHistogram | None]) -> HdrHistogram:
    total = new_histogram()
    for h in histograms:
        summed(total, h)
    return total


def _row(records: list[EndpointRecord], duration_s: float) -> dict[str, Any]:
    """Figures of one or several records merged (a protocol row merges its endpoints)."""
    histogram = _sum([r.histogram for r in records])
    requests = sum(r.requests for r in records)
    failures = sum(r.failures for r in records)
    timed = requests - sum(r.no_reply for r in records)
    by_type: dict[str, int] = {}
    for r in records:
        for kind, n in r.failures_by_type.items():
            by_type[kind] = by_type.get(kind, 0) + n
    mins = [r.min_ms for r in records if r.min_ms is not None]
    maxs = [r.max_ms for r in records if r.max_ms is not None]
    row: dict[str, Any] = {
        "requests": requests,
        "failures": failures,
        "failures_by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        "no_reply": sum(r.no_reply for r in records),
        "rps": requests / duration_s if duration_s > 0 else 0.0,
        "error_rate_pct": 100.0 * failures / requests if requests else 0.0,
        "min_ms": min(mins) if mins else None,
        "avg_ms": sum(r.total_ms for r in records) / timed if timed else None,
        "max_ms": max(maxs) if maxs else None,
    }
    for p in PERCENTILES:  # HDR gives a bucket's upper edge: keep it within the exact min and max
        value = histogram.get_value_at_percentile(p) / 1000.0 if timed else None
        row[_pct_key(p)] = min(max(value, row["min_ms"]), row["max_ms"]) if value is not None and mins else value
    row["histogram"] = histogram.encode().decode("ascii") if timed else None
    if any(r.corrected is not None for r in records):  # paced load: from the intended start (corrected)
        merged = _sum([r.corrected for r in records])
        row["corrected"] = {_pct_key(p): merged.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES}
        row["corrected"]["max_ms"] = merged.get_max_value() / 1000.0
        row["corrected"]["histogram"] = merged.encode().decode("ascii")
    if any(r.gaps is not None or r.messages for r in records):
        gaps = _sum([r.gaps for r in records])
        row["stream"] = {
            "messages": sum(r.messages for r in records),
            "gap_p50_ms": gaps.get_value_at_percentile(50) / 1000.0 if gaps.total_count else None,
            "gap_p95_ms": gaps.get_value_at_percentile(95) / 1000.0 if gaps.total_count else None,
            "gap_max_ms": gaps.get_max_value() / 1000.0 if gaps.total_count else None,
            "gaps_histogram": gaps.encode().decode("ascii") if gaps.total_count else None,
        }
    return row


def build_summary(recorder: Recorder, meta: dict[str, Any], duration_s: float) -> dict[str, Any]:
    """Summary of everything ``recorder`` saw; ``meta`` supplies scenario, services, times and flags."""
    total, protocols, endpoints = figures_of(recorder, duration_s)
    return {
        "schema": SCHEMA,
        **meta,
        "duration_s": duration_s,
        "environment": environment_info(),
        "total": total,
        "protocols": protocols,
        "endpoints": endpoints,
    }


def figures_of(
    recorder: Recorder, duration_s: float
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The total row, the rows per protocol and per endpoint of everything ``recorder`` saw."""
    records = sorted(recorder.endpoints.values(), key=lambda r: (r.protocol, r.name, r.request_type))
    endpoints = [
        {"protocol": r.protocol, "request_type": r.request_type, "name": r.name, **_row([r], duration_s)}
        for r in records
    ]
    counted = [r for r in records if not is_facet(r.request_type)]  # a first-message row is no extra request
    protocols: dict[str, dict[str, Any]] = {}
    for protocol in sorted({r.protocol for r in counted}):
        protocols[protocol] = _row([r for r in counted if r.protocol == protocol], duration_s)
    return _row(counted, duration_s), protocols, endpoints


def decode_histogram(encoded: str) -> HdrHistogram:
    """The histogram of a summary row (microseconds), for exact merging and re-computation."""
    return HdrHistogram.decode(encoded)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment_info() -> dict[str, Any]:
    try:
        from importlib.metadata import version

        locust_version: str | None = version("locust")
    except Exception:  # the summary must be written even if package metadata is odd
        locust_version = None
    return {
        "harness_version": HARNESS_VERSION,
        "python": platform.python_version(),
        "locust": locust_version,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


def with_verdicts(summary: dict[str, Any], verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        **summary,
        "thresholds": {"passed": all(v.passed for v in verdicts), "verdicts": [v.as_dict() for v in verdicts]},
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_text(summary: dict[str, Any]) -> str:
    """The human summary: per-endpoint table, failures by type, then the verdict table."""
    scenario = summary.get("scenario", {})
    lines = [
        f"Load test: scenario {scenario.get('name', '?')}, test types {', '.join(summary.get('test_types', []))}"
        f"{'  [PARTIAL: interrupted before the end]' if summary.get('partial') else ''}"
        f"{'  [ABORTED: ' + summary['aborted'] + ']' if summary.get('aborted') else ''}",
        f"Started {summary.get('started_at', '?')}, ran {summary['duration_s']:.1f}s",
        "",
    ]
    paced = bool(summary.get("pacing"))
    lines += _invalid_lines(summary)
    lines.append(
        f"{'Type':<20} {'Name':<32} {'Reqs':>7} {'Fails':>6} {'RPS':>7} {'Avg':>8} {'Min':>8} {'p50':>8} "
        f"{'p95':>8} {'p99':>8} {'Max':>8}" + (f" {'c-p50':>8} {'c-p95':>8} {'c-p99':>8} {'c-Max':>8}" if paced else "")
    )
    protocol_rows = [{"request_type": "protocol", "name": p, **row} for p, row in summary["protocols"].items()]
    rows = [*summary["endpoints"], *protocol_rows, {"request_type": "", "name": "TOTAL", **summary["total"]}]
    for r in rows:
        lines.append(
            f"{r['request_type'][:20]:<20} {r['name'][:32]:<32} {r['requests']:>7} {r['failures']:>6} {r['rps']:>7.2f} "
            f"{_fmt(r['avg_ms']):>8} {_fmt(r['min_ms']):>8} {_fmt(r['p50_ms']):>8} {_fmt(r['p95_ms']):>8} "
            f"{_fmt(r['p99_ms']):>8} {_fmt(r['max_ms']):>8}" + (_corrected_cells(r) if paced else "")
        )
    lines.append("(times in ms; 'first ...' rows time the first message of a stream and are not counted again)")
    lines += _pacing_lines(summary)
    failures = [(r, kind, n) for r in summary["endpoints"] for kind, n in r["failures_by_type"].items()]
    if failures:
        lines += ["", "Failures by type:"]
        lines += [f"  {n:>6}  {r['request_type']} {r['name']}: {kind}" for r, kind, n in failures]
    lines += _capacity_lines(summary)
    lines += _custom_lines(summary)
    lines += _resource_lines(summary)
    thresholds = summary.get("thresholds")
    if thresholds:
        lines += ["", "Thresholds:"]
        for v in thresholds["verdicts"]:
            lines.append(f"  {'PASS' if v['passed'] else 'FAIL'}  {v['scope']:<28} {v['metric']:<15} {v['reason']}")
        lines.append(f"Result: {'PASSED' if thresholds['passed'] else 'FAILED'}")
    if summary.get("validity") and not summary["validity"]["valid"]:
        lines.append("Run INVALID (exit code 4): " + "; ".join(summary["validity"]["reasons"]))
    return "\n".join(lines) + "\n"


def _corrected_cells(row: dict[str, Any]) -> str:
    c = row.get("corrected") or {}
    return "".join(f" {_fmt(c.get(k)):>8}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


def _invalid_lines(summary: dict[str, Any]) -> list[str]:
    validity = summary.get("validity") or {}
    if validity.get("valid", True):
        return []
    why = " (these latencies measure the generator, not the service)"
    return [f"RUN INVALID: {reason}{why}" for reason in validity["reasons"]] + [""]


def _pacing_lines(summary: dict[str, Any]) -> list[str]:
    p = summary.get("pacing")
    if not p:
        return []
    return [
        "(open model: times are service times, send to reply; c-* are corrected response times, from the intended "
        "start of the iteration)",
        f"Arrival rate ({p['kind']}): {p['planned_rate']:.2f}/s scheduled, {p['achieved_rate']:.2f}/s achieved; "
        f"{p['planned']} planned, {p['started']} started, {p['dropped']} dropped (pool of {p['max_users']} busy), "
        f"{p['late']} late by more than {p['late_ms']:g} ms (max {p['lateness_max_ms']:.0f} ms)",
    ]


def custom_figures(entry: dict[str, Any]) -> str:
    """One domain metric in words: ``1234 (41.1/s)``, ``97.5% of 400``, ``avg 0.21 p95 0.30 max 0.41 (n=80)``."""
    kind = entry["kind"]
    if kind == "counter":
        rate = entry.get("per_second")
        return f"{entry['value']:g}" + (f" ({rate:.3g}/s)" if rate is not None else "")
    if kind == "rate":
        share = entry.get("rate")
        return f"{'-' if share is None else f'{100 * share:.1f}%'} of {entry['total']}"
    return (f"avg {entry['avg']:.3g}  p50 {entry['p50']:.3g}  p95 {entry['p95']:.3g}  max {entry['max']:.3g}"
            f"  (n={entry['count']})") if entry.get("count") else "no values"  # fmt: skip


def _capacity_lines(summary: dict[str, Any]) -> list[str]:
    cap = summary.get("capacity")
    if not cap:
        return []
    lines = ["", f"Capacity: {cap['verdict']}"]
    for st in cap["steps"]:
        state = "held" if st["held"] else "broke: " + "; ".join(st["reasons"])
        figures = f"{st['rps']:>8.1f} req/s  p95 {_fmt(st['p95_ms']):>8} ms  errors {st['error_rate_pct']:.2f}%"
        lines.append(f"  step {st['step']:>3}  {st['load']:>8g} {cap['unit']:<12}  {figures}  {state}")
    for name, p in cap["protocols"].items():
        peak = f"{p['peak']['load']:g} {cap['unit']}" if p["peak"] else "none"
        broke = f"broke at {p['broke']['load']:g} {cap['unit']}" if p["broke"] else "did not break"
        lines.append(f"  {name}: peak {peak}, {broke}")
    return lines


def _custom_lines(summary: dict[str, Any]) -> list[str]:
    custom = summary.get("custom") or {}
    if not custom:
        return []
    return ["", "Domain metrics:"] + [f"  {name:<34} {e['kind']:<8} {custom_figures(e)}" for name, e in custom.items()]


def _resource_lines(summary: dict[str, Any]) -> list[str]:
    res = summary.get("resources")
    if not res:
        return []
    stats = res.get("stats", {})
    lines = ["", "Resources (CPU % of one core, RSS MB: avg / max):"]
    for g in res.get("generators", []):
        cpu, rss = stats.get(f"generator.{g['name']}.cpu_percent"), stats.get(f"generator.{g['name']}.rss_mb")
        figures = f"CPU {_fmt(cpu and cpu['avg'])} / {_fmt(cpu and cpu['max'])}  RSS {_fmt(rss and rss['max'])}"
        lines.append(f"  {g['name']:<10} {g['requests']:>7} requests  {figures}  {g['status']}")
    cpu, rss = stats.get("target.cpu_percent"), stats.get("target.rss_mb")
    if cpu and rss:
        lines.append(f"  {'target':<10} {'':>16}  CPU {_fmt(cpu['avg'])} / {_fmt(cpu['max'])}  RSS {_fmt(rss['max'])}")
    scraped = [n for n in stats if n.startswith("metrics.")]
    if scraped:
        lines.append("  scraped: " + ", ".join(f"{n[8:]} max {_fmt(stats[n]['max'])}" for n in scraped))
    gpu = res.get("gpu") or {}
    lines.append(f"  GPU: {gpu.get('reason', 'no GPU')}")
    for w in (summary.get("workers") or {}).get("lost", []):
        lines.append(
            f"  WORKER LOST: {w['name']} (pid {w['pid']}) at {w['lost_at_s']:.1f}s; its unreported figures are missing"
        )
    return lines


def write_summary(summary: dict[str, Any], run_dir: Path, timestamp: str) -> Path:
    """Write ``locust_report_<ts>.json`` first, so no report made from it can exist without it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    json_path = run_dir / f"locust_report_{timestamp}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tmp.replace(json_path)  # a reader never sees half a summary
    return json_path

"""The human summary (``analysis/summary.txt``, and what the runner prints): tables in plain text."""

from __future__ import annotations

from typing import Any

from load_tests.reporting.llm_text import llm_lines


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_text(summary: dict[str, Any]) -> str:
    """The human summary: per-endpoint table, failures by type, then the verdict table."""
    scenario = summary.get("scenario", {})
    lines = [
        f"Load test: scenario {scenario.get('name', '?')}, test types {', '.join(summary.get('test_types', []))}"
        f"{'  [PARTIAL: interrupted before the end]' if summary.get('partial') else ''}"
        f"{'  [ABORTED: ' + summary['aborted'] + ']' if summary.get('aborted') else ''}"
        f"{'  [ENDED EARLY: ' + summary['finished_early'] + ']' if summary.get('finished_early') else ''}",
        f"Started {summary.get('started_at', '?')}, ran {summary['duration_s']:.1f}s (wall time)",
        window_line(summary),
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
    lines.append(
        "(times in ms; 'first ...' rows time the first message of a stream and are not counted again;"
        " connects, pings and pushes keep their rows but are not requests: TOTAL and protocol rows,"
        " RPS and error rates leave them out)"
    )
    lines += _pacing_lines(summary)
    failures = [(r, kind, n) for r in summary["endpoints"] for kind, n in r["failures_by_type"].items()]
    if failures:
        lines += ["", "Failures by type:"]
        lines += [f"  {n:>6}  {r['request_type']} {r['name']}: {kind}" for r, kind, n in failures]
    lines += llm_lines(summary)
    lines += _capacity_lines(summary)
    lines += _custom_lines(summary)
    lines += _resource_lines(summary)
    thresholds = summary.get("thresholds")
    if thresholds:
        lines += ["", "Thresholds:", *_verdict_lines(thresholds["verdicts"])]
        lines.append(f"Result: {'PASSED' if thresholds['passed'] else 'FAILED'}")
    if summary.get("validity") and not summary["validity"]["valid"]:
        lines.append("Run INVALID (exit code 4): " + "; ".join(summary["validity"]["reasons"]))
    lines += [f"Run {w}" for w in (summary.get("validity") or {}).get("warnings", [])]
    return "\n".join(lines) + "\n"


def _verdict_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    """One line per verdict; the scope and metric columns are as wide as their longest entry (at least 28
    and 15), so ``slo_attainment_pct min`` does not push its reason out of line."""
    scope = max([28, *(len(str(v["scope"])) for v in verdicts)])
    metric = max([15, *(len(str(v["metric"])) for v in verdicts)])
    return [f"  {'PASS' if v['passed'] else 'FAIL'}  {v['scope']:<{scope}} {v['metric']:<{metric}} {v['reason']}"
            for v in verdicts]  # fmt: skip


def window_line(summary: dict[str, Any]) -> str:
    """What every rate is over: ``Rates over the 20.0 s traffic window (first request sent to last ended)``."""
    window = summary.get("window") or {}
    seconds = summary.get("window_s", summary["duration_s"])
    span = {"schedule": "the arrival schedule's span", "requests": "first request sent to last ended"}
    return f"Rates over the {seconds:.1f} s traffic window ({span.get(str(window.get('kind')), 'the whole run')})"


def corrected_label(row: dict[str, Any]) -> str:
    """How far the corrected figures of a row reach: every iteration, or only those that started."""
    c = row.get("corrected") or {}
    if c.get("not_started"):
        return (
            f"corrected figures include {c['not_started']} iterations that never started (dropped or still "
            "waiting), each at its lower bound: from its intended start to the end of the traffic window"
        )
    return "corrected figures: every iteration started (none was dropped)"


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
        f"TOTAL {corrected_label(summary['total'])}; endpoint and protocol rows: started iterations only",
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
        lag = stats.get(f"generator.{g['name']}.loop_lag_ms")
        if lag:  # engine/resources.LoopLagProbe: the error this process adds to every time it reads
            figures += f"  loop lag p99 {_fmt(lag['avg'])} / {_fmt(lag['max'])} ms"
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

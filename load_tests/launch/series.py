"""Repeated and matrix runs: ``--repeat N`` and ``--matrix``, with one combined report.

Is a difference between two runs real, or noise? One run cannot say. ``--repeat N`` runs the same
scenario N times and reports the spread of every figure (median, min, max and range across runs);
``baseline.json`` (the median run's summary with that spread attached) is what ``generate_report.py
NEW.json --compare baseline.json`` uses as its noise level: a p95 must move by more than the range
the repeats showed before it counts as a regression.

``--matrix`` runs every combination of the YAML's ``matrix:`` section (each entry a set of overrides
of the config, e.g. another dataset or another model's URL) in turn, each ``--repeat`` times, and
writes one combined report (``series.json``, ``series.txt``, ``series.html``) with a row per run and
one spread per combination. Runs happen one after another, never at once: they would measure each
other. A Ctrl-C stops the series after the run it interrupts; the combined report covers what ran.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, FileSystemLoader, select_autoescape

from load_tests.core.errors import ConfigError
from load_tests.core.run_folder import EXIT_FAILED, EXIT_INVALID, EXIT_PASSED, SUMMARY_GLOB, new_timestamp
from load_tests.launch.locust_launcher import run
from load_tests.launch.settings import Settings, deep_merge, load_settings
from load_tests.reporting.compare import HEADLINE

FIGURES = ("requests", "failures", "error_rate_pct", "rps", "p50_ms", "p95_ms", "p99_ms")
SPREAD_FIGURES = ("error_rate_pct", "rps", "p50_ms", "p95_ms", "p99_ms")
MAX_RUNS = 1000
_env = Environment(loader=FileSystemLoader(Path(__file__).parents[1] / "reporting" / "templates"),
                   autoescape=select_autoescape(["html", "j2"]))  # fmt: skip


@dataclass
class SeriesRun:
    label: str  # the matrix combination ("" without --matrix)
    repeat: int  # 1..N
    exit_code: int
    run_dir: Path | None
    summary: dict[str, Any] | None


def combinations(matrix: Mapping[str, Mapping[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Every combination of the matrix as (``dim=entry dim=entry``, merged overrides), in YAML order."""
    if not matrix:
        return [("", {})]
    dimensions = [
        [(f"{dim}={name}", overrides) for name, overrides in entries.items()] for dim, entries in matrix.items()
    ]
    result = []
    for combo in itertools.product(*dimensions):
        merged: dict[str, Any] = {}
        for _, overrides in combo:
            merged = deep_merge(merged, overrides)
        result.append((" ".join(label for label, _ in combo), merged))
    return result


def spread(values: list[float | None]) -> dict[str, float | None]:
    """Median, min, max and range of one figure across runs (None values are runs without it)."""
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None, "range": None, "range_pct": None}
    median, low, high = statistics.median(known), min(known), max(known)
    return {"median": median, "min": low, "max": high, "range": high - low,
            "range_pct": 100.0 * (high - low) / median if median else None}  # fmt: skip


def _scopes(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows compare.py judges, under its own names, plus ``total``."""
    rows = {"total": summary["total"]}
    rows.update({f"protocol {p}": row for p, row in summary["protocols"].items()})
    rows.update({f"{r['request_type']} {r['name']}": r for r in summary["endpoints"]})
    return rows


def spread_of(summaries: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per scope and figure, the spread across ``summaries``: the noise level of these runs."""
    scoped = [_scopes(s) for s in summaries]
    out = {}
    for scope in sorted(set().union(*scoped)):
        rows = [by_scope.get(scope) for by_scope in scoped]
        out[scope] = {f: spread([row.get(f) if row else None for row in rows]) for f in SPREAD_FIGURES}
    customs = [s.get("custom") or {} for s in summaries]
    for name in sorted(set().union(*customs)):
        kinds = {c[name]["kind"] for c in customs if name in c}
        if len(kinds) == 1:
            figure = HEADLINE[kinds.pop()]
            out[f"custom {name}"] = {figure: spread([c[name].get(figure) if name in c else None for c in customs])}
    return out


def _row(r: SeriesRun) -> dict[str, Any]:
    total = (r.summary or {}).get("total") or {}
    custom = (r.summary or {}).get("custom") or {}
    return {
        "label": r.label, "repeat": r.repeat, "exit_code": r.exit_code,
        "verdict": _verdict(r), "run_dir": str(r.run_dir) if r.run_dir else None,
        **{f: total.get(f) for f in FIGURES},
        "custom": {name: e.get(HEADLINE[e["kind"]]) for name, e in custom.items()},
    }  # fmt: skip


def _verdict(r: SeriesRun) -> str:
    verdicts = {EXIT_PASSED: "PASSED", EXIT_FAILED: "FAILED", EXIT_INVALID: "INVALID"}
    return verdicts.get(r.exit_code, "INTERRUPTED" if r.exit_code >= 128 else "ERROR")


def by_label(runs: list[SeriesRun]) -> dict[str, list[SeriesRun]]:
    """The runs of each matrix combination, in the order they ran."""
    groups: dict[str, list[SeriesRun]] = {}
    for r in runs:
        groups.setdefault(r.label, []).append(r)
    return groups


def combine(runs: list[SeriesRun], repeat: int) -> dict[str, Any]:
    """The combined report's data: a row per run and, per combination, the spread of its runs."""
    combos = []
    for label, members in by_label(runs).items():
        done = [m.summary for m in members if m.summary]
        combos.append({"label": label, "runs": len(members),
                       "figures": {f: spread([(s.get("total") or {}).get(f) for s in done]) for f in FIGURES},
                       "exit_codes": [m.exit_code for m in members]})  # fmt: skip
    return {"repeat": repeat, "runs": [_row(r) for r in runs], "combinations": combos,
            "exit_code": max((r.exit_code for r in runs), default=0)}  # fmt: skip


def _median_run(members: list[SeriesRun]) -> SeriesRun | None:
    done = sorted((m for m in members if m.summary), key=lambda m: m.summary["total"].get("p95_ms") or 0.0)  # type: ignore[index]
    return done[(len(done) - 1) // 2] if done else None


def render_text(data: dict[str, Any]) -> str:
    lines = [f"{'combination':<40} {'#':>3} {'verdict':<11} {'reqs':>7} {'fails':>6} {'err%':>6} {'rps':>8} "
             f"{'p50':>8} {'p95':>8} {'p99':>8}"]  # fmt: skip
    for r in data["runs"]:
        head = f"{(r['label'] or '-')[:40]:<40} {r['repeat']:>3} {r['verdict']:<11}"
        counts = f"{_n(r['requests'], 0):>7} {_n(r['failures'], 0):>6} {_n(r['error_rate_pct'], 2):>6}"
        times = f"{_n(r['rps']):>8} {_n(r['p50_ms']):>8} {_n(r['p95_ms']):>8} {_n(r['p99_ms']):>8}"
        lines.append(f"{head} {counts} {times}")
    if data["repeat"] > 1:
        lines += ["", "Spread across repeats (median [min .. max], range %):"]
        for c in data["combinations"]:
            for f in ("rps", "p50_ms", "p95_ms", "p99_ms", "error_rate_pct"):
                s = c["figures"][f]
                if s["median"] is not None:
                    pct = f", range {s['range_pct']:.1f}%" if s["range_pct"] is not None else ""
                    lines.append(f"  {(c['label'] or '-')[:40]:<40} {f:<15} {s['median']:.2f} [{s['min']:.2f} .. "
                                 f"{s['max']:.2f}]{pct}")  # fmt: skip
    return "\n".join(lines) + "\n"


def _n(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_combined(runs: list[SeriesRun], repeat: int, folder: Path) -> dict[str, Any]:
    """``series.json``/``.txt``/``.html`` and, with repeats, a ``baseline*.json`` per combination."""
    folder.mkdir(parents=True, exist_ok=True)
    data = combine(runs, repeat)
    if repeat > 1:
        data["baselines"] = {}
        for label, members in by_label(runs).items():
            median = _median_run(members)
            if median is None or median.summary is None:
                continue
            baseline = {**median.summary, "spread": spread_of([m.summary for m in members if m.summary]),
                        "spread_runs": sum(1 for m in members if m.summary)}  # fmt: skip
            name = "baseline.json" if not label else f"baseline-{label.replace(' ', '_').replace('=', '-')}.json"
            (folder / name).write_text(json.dumps(baseline, indent=2), encoding="utf-8")
            data["baselines"][label] = name
    (folder / "series.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (folder / "series.txt").write_text(render_text(data), encoding="utf-8")
    html = _env.get_template("series.html.j2").render(d=data, n=_n)
    (folder / "series.html").write_text(html, encoding="utf-8")
    return data


def load_run_summary(run_dir: Path | None) -> dict[str, Any] | None:
    found = sorted(run_dir.glob(SUMMARY_GLOB)) if run_dir else []
    return json.loads(found[0].read_text(encoding="utf-8")) if found else None


def _plans(cli: Mapping[str, Any], use_matrix: bool, repeat: int = 1) -> list[tuple[str, Settings]]:
    """Settings of every combination, all validated before anything runs (a typo in the last entry
    fails now, not after an hour of runs)."""
    base = load_settings(cli)
    if use_matrix and not base.matrix:
        raise ConfigError(f"--matrix: {base.config_path or 'the config'} has no matrix: section "
                          "({dimension: {entry: overrides}})")  # fmt: skip
    combos = combinations(base.matrix) if use_matrix else [("", {})]
    if len(combos) * repeat > MAX_RUNS:
        raise ConfigError(f"--repeat/--matrix: {len(combos) * repeat} runs; at most {MAX_RUNS}")
    return [(label, load_settings(cli, overrides=o, label=label)) for label, o in combos]


def dry_run_series(cli: Mapping[str, Any], out: TextIO = sys.stdout) -> int:
    """``--matrix --dry-run``: every combination's plan."""
    for label, settings in _plans(cli, True):
        print(f"=== {label} ===", file=out)
        run(settings, dry_run=True, out=out)
    return EXIT_PASSED


def run_series(cli: Mapping[str, Any], repeat: int, use_matrix: bool, out: TextIO = sys.stdout) -> int:
    """Run every combination ``repeat`` times, one after another; write the combined report."""
    plans = _plans(cli, use_matrix, repeat)
    folder = plans[0][1].output_dir.resolve() / f"series-{new_timestamp()}"
    runs: list[SeriesRun] = []
    schedule = [(label, settings, i) for label, settings in plans for i in range(1, repeat + 1)]
    for n, (label, settings, i) in enumerate(schedule, start=1):
        name = label or settings.scenario.name
        print(f"\n=== run {n}/{len(schedule)}: {name}{f' (repeat {i}/{repeat})' if repeat > 1 else ''} ===",
              file=out, flush=True)  # fmt: skip
        dirs: list[Path] = []
        code = run(settings, out=out, run_dirs=dirs)
        run_dir = dirs[0] if dirs else None
        runs.append(SeriesRun(label, i, code, run_dir, load_run_summary(run_dir)))
        if code >= 128:  # interrupted: stop the series, keep what ran
            break
    data = write_combined(runs, repeat, folder)
    print(f"\nCombined report of {len(runs)} run(s):\n{render_text(data)}Written to {folder}:", file=out)
    for path in sorted(folder.iterdir()):
        print(f"  {path.name}", file=out)
    return int(data["exit_code"])

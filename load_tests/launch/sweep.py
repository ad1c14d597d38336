"""``--sweep rates=1,2,4,8`` (or ``users=10,20,40``): one run per load, up to saturation, one table and plot.

Each point is an ordinary run of the chosen scenario with ``--rate`` (open model: the scenario's
arrival process, pool and ``stop_when`` are kept) or ``--users`` (closed model) set to that load, in
its own report folder, one after another. The sweep stops after the first saturated point (see
:mod:`load_tests.core.sweep`): beyond it a run only measures a queue. Give arrival-rate scenarios a
``stop_when`` so that the saturated point itself ends early.

Written to ``<output>/sweep-<timestamp>/``: ``sweep.csv`` and ``sweep.md`` (a row per load, the knee
marked), ``sweep.png`` (the trade-off plot, reporting/sweep_plot.py), ``sweep.json`` (the points), and
the series report of the runs (``series.json``/``.txt``/``.html``, as ``--matrix`` writes). The exit
code is the worst of the runs up to the knee: past the knee failing is what a sweep is for.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from load_tests.core.errors import ConfigError
from load_tests.core.run_folder import EXIT_PASSED, new_timestamp
from load_tests.core.sweep import (
    MAX_LATENCY_FACTOR,
    MIN_GAIN,
    find_knee,
    parse_sweep,
    sweep_exit_code,
    sweep_point,
    table_csv,
    table_markdown,
)
from load_tests.launch.locust_launcher import run
from load_tests.launch.series import SeriesRun, load_run_summary, write_combined
from load_tests.launch.settings import Settings, load_settings


def _plans(cli: Mapping[str, Any]) -> tuple[str, list[tuple[float, Settings]]]:
    """Every point's settings, all checked before the first run."""
    dimension, loads = parse_sweep(str(cli["sweep"]))
    key = "rate" if dimension == "rate" else "users"
    base = load_settings({**cli, key: f"{loads[0]:g}"})
    if dimension == "users" and base.scenario.arrival is not None:
        raise ConfigError(f"--sweep: scenario {base.scenario.name} is arrival-rate load; sweep rates= instead")
    if base.scenario.capacity_settle_s is not None:
        raise ConfigError(f"--sweep: scenario {base.scenario.name} is a capacity finder; sweep a plain scenario")
    return dimension, [(load, load_settings({**cli, key: f"{load:g}"})) for load in loads]


def dry_run_sweep(cli: Mapping[str, Any], out: TextIO = sys.stdout) -> int:
    dimension, plans = _plans(cli)
    for load, settings in plans:
        print(f"=== {dimension} {load:g} ===", file=out)
        run(settings, dry_run=True, out=out)
    return EXIT_PASSED


def run_sweep(cli: Mapping[str, Any], out: TextIO = sys.stdout) -> int:
    """Run each load in turn until one saturates; write the table, the plot and the series report."""
    dimension, plans = _plans(cli)
    folder = plans[0][1].output_dir.resolve() / f"sweep-{new_timestamp()}"
    runs: list[SeriesRun] = []
    points: list[dict[str, Any]] = []
    for n, (load, settings) in enumerate(plans, start=1):
        print(f"\n=== sweep {n}/{len(plans)}: {dimension} {load:g} ===", file=out, flush=True)
        dirs: list = []
        code = run(settings, out=out, run_dirs=dirs)
        run_dir = dirs[0] if dirs else None
        summary = load_run_summary(run_dir)
        runs.append(SeriesRun(f"{dimension}={load:g}", 1, code, run_dir, summary))
        points.append({**sweep_point(load, summary, code), "run_dir": str(run_dir) if run_dir else None})
        if code >= 128:
            break
        if points[-1]["saturated"] and n < len(plans):
            print(f"Saturated at {dimension} {load:g} ({points[-1]['saturated']}): the sweep stops here", file=out)
            break
    write_combined(runs, 1, folder)
    knee = find_knee(points)
    (folder / "sweep.csv").write_text(table_csv(points, knee), encoding="utf-8")
    markdown = table_markdown(points, knee, dimension)
    (folder / "sweep.md").write_text(f"# Sweep of {dimension}\n\n{markdown}", encoding="utf-8")
    from load_tests.reporting.sweep_plot import sweep_png  # matplotlib: only a sweep needs it

    (folder / "sweep.png").write_bytes(sweep_png(points, knee, dimension))
    record = {"dimension": dimension, "points": points, "knee": knee,
              "knee_rule": {"min_gain": MIN_GAIN, "max_latency_factor": MAX_LATENCY_FACTOR}}  # fmt: skip
    (folder / "sweep.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"\nSweep of {len(points)} run(s):\n{markdown}Written to {folder}:", file=out)
    for path in sorted(folder.iterdir()):
        print(f"  {path.name}", file=out)
    return sweep_exit_code(points, knee)

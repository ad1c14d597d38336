"""Reports generated from a run summary, the single source of every figure.

``write_reports`` writes, into a run folder: ``locust_report_<ts>.html`` (self-contained),
``locust_report_<ts>_stats.csv``, and ``analysis/`` with ``metrics.csv``, ``summary.txt`` and the
charts. Pure: no Locust; ``load_tests/generate_report.py`` calls it for a saved summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from load_tests.core.summary import render_text
from load_tests.reporting.charts import render_all, write_all
from load_tests.reporting.html import render_html
from load_tests.reporting.tables import write_csv


def write_reports(
    summary: dict[str, Any], run_dir: Path, timestamp: str, comparison: dict[str, Any] | None = None,
    old_summary: dict[str, Any] | None = None,
) -> list[Path]:  # fmt: skip
    """Every report of ``summary`` (and of its comparison with ``old_summary``) under ``run_dir``."""
    analysis = run_dir / "analysis"
    analysis.mkdir(parents=True, exist_ok=True)
    charts = render_all(summary, old_summary)
    written = write_all(charts, analysis)
    (analysis / "summary.txt").write_text(render_text(summary), encoding="utf-8")
    written.append(analysis / "summary.txt")
    written.append(write_csv(summary, analysis / "metrics.csv"))
    written.append(write_csv(summary, run_dir / f"locust_report_{timestamp}_stats.csv"))
    html = run_dir / f"locust_report_{timestamp}.html"
    html.write_text(render_html(summary, charts, comparison), encoding="utf-8")
    written.append(html)
    return written

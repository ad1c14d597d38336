"""Reports generated from a run summary, the single source of every figure.

``write_reports`` writes, into a run folder: ``locust_report_<ts>.html`` (self-contained),
``locust_report_<ts>_stats.csv``, ``summary.md`` (also appended to ``$GITHUB_STEP_SUMMARY`` when set),
``junit.xml`` (when ``CI`` is set, or at ``junit``), and ``analysis/`` with ``metrics.csv``, ``summary.txt``
and the charts. Pure: no Locust; ``load_tests/generate_report.py`` calls it for a saved summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from load_tests.core.run_folder import RunFolder
from load_tests.reporting.junit import default_on, write_junit
from load_tests.reporting.markdown import write_markdown
from load_tests.reporting.tables import write_csv
from load_tests.reporting.text import render_text


def write_reports(
    summary: dict[str, Any], run_dir: Path, timestamp: str, comparison: dict[str, Any] | None = None,
    old_summary: dict[str, Any] | None = None, junit: Path | None = None,
) -> list[Path]:  # fmt: skip
    """Every report of ``summary`` (and of its comparison with ``old_summary``) under ``run_dir``.

    matplotlib and jinja2 are imported here, not with the package: every Locust process (workers too,
    which never write a report) and the launcher import this package, and pyplot alone takes about half a
    second to import."""
    from load_tests.reporting.charts import render_all, write_all
    from load_tests.reporting.html import render_html

    folder = RunFolder(run_dir, timestamp)
    folder.analysis.mkdir(parents=True, exist_ok=True)
    charts = render_all(summary, old_summary)
    written = write_all(charts, folder.analysis)
    folder.summary_text.write_text(render_text(summary), encoding="utf-8")
    written.append(folder.summary_text)
    written.append(write_csv(summary, folder.metrics_csv))
    written.append(write_csv(summary, folder.stats_csv))
    folder.html.write_text(render_html(summary, charts, comparison), encoding="utf-8")
    written.append(folder.html)
    written.append(write_markdown(summary, folder.summary_md, comparison))
    if junit is not None or default_on():
        written.append(write_junit(summary, junit or folder.junit_xml, comparison))
    return written


def write_summary(summary: dict[str, Any], run_dir: Path, timestamp: str) -> Path:
    """Write ``locust_report_<ts>.json`` first, so no report made from it can exist without it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    json_path = RunFolder(run_dir, timestamp).summary_json
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tmp.replace(json_path)  # a reader never sees half a summary
    return json_path

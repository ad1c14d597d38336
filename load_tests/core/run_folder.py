"""The run folder's layout and the exit codes: the one place that spells them.

A run writes into ``<output>/<scenario>/<timestamp>/``::

    run_plan.json                        what the launcher told Locust (no secrets)
    locust_report_<ts>.json              the run summary, written first; every report is made from it
    locust_report_<ts>.html              self-contained HTML report
    locust_report_<ts>_stats.csv         one row per endpoint, protocol and total
    locust_builtin_<ts>.html, locust_<ts>_*.csv   Locust's own reports
    analysis/summary.txt, analysis/metrics.csv, analysis/*.png
    summary.md                           the Markdown summary (also appended to $GITHUB_STEP_SUMMARY)
    junit.xml                            JUnit XML of thresholds and compare verdicts (when CI is set)
    comparison.json                      written by ``generate_report.py --compare``

Exit codes of ``run_load_tests.py`` (and of Locust's process, which decides the first four):
0 passed, 1 a threshold failed (or, for ``generate_report.py --compare``, a row regressed),
2 a usage or config mistake (:class:`load_tests.core.errors.HarnessError`), 3 no summary could be
written, 4 the run was invalid (its latency measured the generator), 128+N a signal before Locust ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_SUMMARY = 3
EXIT_INVALID = 4

PLAN_FILE = "run_plan.json"
ANALYSIS_DIR = "analysis"
SUMMARY_TEXT = "summary.txt"
METRICS_CSV = "metrics.csv"
COMPARISON_FILE = "comparison.json"
SUMMARY_MD = "summary.md"
JUNIT_FILE = "junit.xml"
SUMMARY_GLOB = "locust_report_*.json"


def exit_code(valid: bool, passed: bool) -> int:
    """The verdict as an exit code: an invalid run is 4 whatever its thresholds say."""
    if not valid:
        return EXIT_INVALID
    return EXIT_PASSED if passed else EXIT_FAILED


def new_timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def timestamp_of(summary_path: Path) -> str:
    """``locust_report_<ts>.json`` -> ``<ts>``."""
    return summary_path.stem.removeprefix("locust_report_")


@dataclass(frozen=True)
class RunFolder:
    """The files of one run, by role."""

    path: Path
    timestamp: str

    @property
    def plan(self) -> Path:
        return self.path / PLAN_FILE

    @property
    def summary_json(self) -> Path:
        return self.path / f"locust_report_{self.timestamp}.json"

    @property
    def html(self) -> Path:
        return self.path / f"locust_report_{self.timestamp}.html"

    @property
    def stats_csv(self) -> Path:
        return self.path / f"locust_report_{self.timestamp}_stats.csv"

    @property
    def summary_md(self) -> Path:
        return self.path / SUMMARY_MD

    @property
    def junit_xml(self) -> Path:
        return self.path / JUNIT_FILE

    @property
    def locust_html(self) -> Path:
        return self.path / f"locust_builtin_{self.timestamp}.html"

    @property
    def locust_csv_prefix(self) -> Path:
        return self.path / f"locust_{self.timestamp}"

    @property
    def analysis(self) -> Path:
        return self.path / ANALYSIS_DIR

    @property
    def summary_text(self) -> Path:
        return self.analysis / SUMMARY_TEXT

    @property
    def metrics_csv(self) -> Path:
        return self.analysis / METRICS_CSV


def unique_run_dir(output_dir: Path, scenario_name: str, timestamp: str) -> Path:
    """``<output>/<scenario>/<timestamp>``, suffixed -2, -3... if two runs start in the same second."""
    base = output_dir / scenario_name / timestamp
    if output_dir.resolve() not in base.resolve().parents:  # settings refuse such names; never write outside
        raise ValueError(f"report folder {base} would be outside the output folder {output_dir}")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{timestamp}-{n}")
    return candidate


def latest_summary(results_dir: Path, scenario: str) -> Path:
    """The newest run summary of ``scenario`` under ``results_dir`` (or in it directly)."""
    found = sorted(Path(results_dir).glob(f"{scenario}/*/{SUMMARY_GLOB}")) or sorted(
        Path(results_dir).glob(SUMMARY_GLOB)
    )
    if not found:
        raise FileNotFoundError(f"no run summary of scenario {scenario!r} under {results_dir}")
    return max(found, key=lambda p: p.stat().st_mtime)

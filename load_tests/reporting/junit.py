"""JUnit XML of a run: one test case per threshold and per compare verdict, so CI shows them as tests.

GitLab (``artifacts:reports:junit``), Jenkins (``junit``) and GitHub's test-report actions all read
the Ant/Surefire dialect: ``<testsuites>`` of ``<testsuite name tests failures errors skipped time>``
of ``<testcase classname name time>``, a failing case holding ``<failure message type>`` with the
figure and the limit. A compare row with too few samples is ``<skipped>``: neither passed nor failed.
The run's validity is a case too: invalid is a failure, and its warnings are the case's ``<system-out>``.
Written with the standard library; ``xml.etree`` escapes every attribute and text.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from load_tests.core.run_folder import SUMMARY_GLOB

CI_ENV = "CI"  # set by GitHub Actions, GitLab CI, Jenkins (via plugins), CircleCI, ...


def default_on() -> bool:
    """JUnit is written by default when the ``CI`` environment variable is set (and not "false"/"0")."""
    return os.environ.get(CI_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _suite(parent: ET.Element, name: str, cases: list[ET.Element], time_s: float) -> None:
    suite = ET.SubElement(parent, "testsuite", name=name, tests=str(len(cases)), errors="0", time=f"{time_s:.3f}",
                          failures=str(sum(c.find("failure") is not None for c in cases)),
                          skipped=str(sum(c.find("skipped") is not None for c in cases)))  # fmt: skip
    suite.extend(cases)


def _threshold_cases(summary: dict[str, Any], classname: str) -> list[ET.Element]:
    cases = []
    for v in (summary.get("thresholds") or {}).get("verdicts", []):
        case = ET.Element("testcase", classname=classname, name=f"{v['scope']} {v['metric']}", time="0")
        if not v["passed"]:
            failure = ET.SubElement(case, "failure", type="threshold",
                                    message=f"{v['scope']} {v['metric']}: {v['reason']}")  # fmt: skip
            failure.text = f"actual {v['actual']}, limit {v['limit']}: {v['reason']}"
        cases.append(case)
    validity = summary.get("validity")
    if validity is not None:
        case = ET.Element("testcase", classname=classname, name="run validity", time="0")
        if not validity["valid"]:
            ET.SubElement(
                case, "failure", type="invalid", message="; ".join(validity["reasons"])
            ).text = "the run measured the load generator, not the service (exit code 4)"
        if validity.get("warnings"):  # they do not fail the run, but CI's test page is where users look
            ET.SubElement(case, "system-out").text = "warnings: " + "; ".join(validity["warnings"])
        cases.append(case)
    return cases


def _compare_cases(comparison: dict[str, Any], classname: str) -> list[ET.Element]:
    cases = []
    for row in comparison["rows"]:
        case = ET.Element("testcase", classname=classname, name=f"{row['scope']} vs baseline", time="0")
        if row["verdict"] == "regressed":
            ci = row["p95_diff_ci_ms"]
            failure = ET.SubElement(case, "failure", type="regression", message=f"{row['scope']}: {row['reason']}")
            failure.text = (f"p95 {row['old']['p95_ms']} -> {row['new']['p95_ms']} ms, change interval {ci} ms, "
                            f"limit {row['threshold_ms']:.1f} ms; " if row["old"]["p95_ms"] is not None else "") + (
                            f"error rate {row['old']['error_rate_pct']} -> {row['new']['error_rate_pct']} %"
                            if row["scope"] != "llm slo_attainment_pct" else row["reason"])  # fmt: skip
        elif row["verdict"] == "too_few":
            ET.SubElement(case, "skipped", message=row["reason"])
        else:
            ET.SubElement(case, "system-out").text = f"{row['verdict']}: {row['reason']}"
        cases.append(case)
    return cases


def render_junit(summary: dict[str, Any], comparison: dict[str, Any] | None = None) -> str:
    scenario = (summary.get("scenario") or {}).get("name", "run")
    root = ET.Element("testsuites", name=f"load test {scenario}")
    time_s = float(summary.get("duration_s") or 0.0)
    _suite(root, f"thresholds ({scenario})", _threshold_cases(summary, f"loadtest.{scenario}.thresholds"), time_s)
    if comparison is not None:
        _suite(root, f"compare ({scenario})", _compare_cases(comparison, f"loadtest.{scenario}.compare"), 0.0)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(summary: dict[str, Any], path: Path, comparison: dict[str, Any] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(summary, comparison), encoding="utf-8")
    return path


def write_junit_of_run(run_dir: Path, path: Path) -> Path | None:
    """``--junit FILE`` of ``run_load_tests.py``: the JUnit XML of the summary in ``run_dir`` (None if none)."""
    found = sorted(run_dir.glob(SUMMARY_GLOB))
    if not found:
        return None
    return write_junit(json.loads(found[-1].read_text(encoding="utf-8")), path)

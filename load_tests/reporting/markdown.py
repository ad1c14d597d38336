"""The Markdown summary: ``summary.md`` in the run folder, and the job page of a CI run.

GitHub shows what a step appends to the file named by ``$GITHUB_STEP_SUMMARY`` on the job's page;
GitLab and a pull request take the same Markdown when pasted. One short page: the verdict first, the
key table (protocols and total), the thresholds, and the comparison's regressions when there is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _cell(text: Any) -> str:
    """A table cell: pipes and line breaks would end the cell or the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_line(summary: dict[str, Any], comparison: dict[str, Any] | None) -> str:
    """One line a reader sees first: passed or failed, and why."""
    thresholds = summary.get("thresholds") or {}
    validity = summary.get("validity") or {"valid": True, "reasons": []}
    failed = [v for v in thresholds.get("verdicts", []) if not v["passed"]]
    if not validity["valid"]:
        head = "❌ **INVALID** (exit 4): " + "; ".join(validity["reasons"])
    elif not thresholds.get("passed", True):
        head = "❌ **FAILED**: " + "; ".join(f"{v['scope']} {v['metric']} {v['reason']}" for v in failed)
    else:
        head = "✅ **PASSED**: every threshold held"
    for warning in validity.get("warnings", []):  # a run that stays valid, with a caveat (core/validity.py)
        head += f"  \n⚠️ {warning}"
    if comparison is not None:
        counts = comparison["counts"]
        mark = "❌ **REGRESSED**" if comparison["regressed"] else "✅ no regression"
        head += (f"  \n{mark} against `{comparison['old_label']}`: {counts['regressed']} regressed, "
                 f"{counts['improved']} improved, {counts['unchanged']} unchanged, "
                 f"{counts.get('too_few', 0)} with too few samples")  # fmt: skip
    return head


KEY_COLUMNS = (("requests", "requests", 0), ("error_rate_pct", "errors %", 2), ("rps", "req/s", 1),
               ("p50_ms", "p50 ms", 1), ("p95_ms", "p95 ms", 1), ("p99_ms", "p99 ms", 1),
               ("max_ms", "max ms", 1))  # fmt: skip


def _key_table(summary: dict[str, Any]) -> list[str]:
    lines = ["| | " + " | ".join(label for _, label, _ in KEY_COLUMNS) + " |", "|---" * (len(KEY_COLUMNS) + 1) + "|"]
    rows = [*summary["protocols"].items(), ("**total**", summary["total"])]
    for name, row in rows:
        lines.append(f"| {_cell(name)} | " + " | ".join(_f(row.get(k), d) for k, _, d in KEY_COLUMNS) + " |")
    return lines


def _thresholds(summary: dict[str, Any]) -> list[str]:
    verdicts = (summary.get("thresholds") or {}).get("verdicts", [])
    if not verdicts:
        return ["No thresholds were set."]
    lines = ["| | scope | metric | limit | actual | |", "|---|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {'✅' if v['passed'] else '❌'} | {_cell(v['scope'])} | {_cell(v['metric'])} | "
                     f"{_f(v['limit'], 2)} | {_f(v['actual'], 2)} | {_cell(v['reason'])} |")  # fmt: skip
    return lines


def _comparison(comparison: dict[str, Any]) -> list[str]:
    lines = [f"## Compared with `{comparison['old_label']}`", ""]
    changed = [r for r in comparison["rows"] if r["verdict"] in ("regressed", "improved")]
    if changed:
        lines += [
            "| verdict | row | p95 before → after (ms) | 95 % CI of the change (ms) | why |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(changed, key=lambda r: r["verdict"] != "regressed"):
            ci = r["p95_diff_ci_ms"]
            mark = "❌ regressed" if r["verdict"] == "regressed" else "✅ improved"
            lines.append(f"| {mark} | {_cell(r['scope'])} | "
                         f"{_f(r['old']['p95_ms'])} → {_f(r['new']['p95_ms'])} | "
                         f"{f'{ci[0]:+.1f} .. {ci[1]:+.1f}' if ci else '-'} | {_cell(r['reason'])} |")  # fmt: skip
    else:
        lines.append("No row moved beyond noise and tolerance.")
    few = [r for r in comparison["rows"] if r["verdict"] == "too_few"]
    if few:
        lines += ["", f"Not judged, too few samples (at least {comparison.get('min_samples', '?')} per run): "
                  + ", ".join(f"{r['scope']} (n={r['samples'][0]}/{r['samples'][1]})" for r in few)]  # fmt: skip
    if comparison.get("settle_s"):
        lines += ["", f"The first {comparison['settle_s']:g} s of both runs (warm-up) were left out."]
    return lines


def render_markdown(summary: dict[str, Any], comparison: dict[str, Any] | None = None) -> str:
    """The whole page: verdict, key table, thresholds, and the comparison when there is one."""
    scenario = (summary.get("scenario") or {}).get("name", "?")
    window = summary.get("window_s") or summary.get("duration_s") or 0.0
    lines = [f"# Load test: {scenario}", "", verdict_line(summary, comparison), "",
             f"{', '.join(summary.get('test_types', []))} · rates over {window:.1f} s · "
             f"started {summary.get('started_at', '?')}", "", *_key_table(summary), "", "## Thresholds", "",
             *_thresholds(summary)]  # fmt: skip
    if summary.get("finished_early"):
        lines[3:3] = [f"> Ended early: {summary['finished_early']}; the scenario's length was a cap.", ""]
    if summary.get("partial"):
        lines[3:3] = ["> Partial run: interrupted before the scenario's end; figures cover what ran.", ""]
    if comparison is not None:
        lines += ["", *_comparison(comparison)]
    return "\n".join(lines) + "\n"


def write_markdown(summary: dict[str, Any], path: Path, comparison: dict[str, Any] | None = None) -> Path:
    """Write ``path`` and, when ``$GITHUB_STEP_SUMMARY`` names a file, append the same page to it."""
    text = render_markdown(summary, comparison)
    path.write_text(text, encoding="utf-8")
    step_summary = os.environ.get(STEP_SUMMARY_ENV)
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    return path

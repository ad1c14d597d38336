"""Regenerate every report from a run summary, optionally compared with an older one.

    python load_tests/generate_report.py RUN.json [--compare OLD.json] [--settle SECONDS] [--junit FILE]
                                         [--out DIR] [--config FILE]

Writes the HTML, CSV and chart reports into DIR (default: the summary's folder). With ``--compare``
the HTML gains a comparison section with both runs' time charts overlaid, ``comparison.json`` is
written, and the exit code is 1 when any row regressed beyond the tolerance (``compare:`` in the
config), so CI can gate on it; a row with too few samples is listed but never fails. ``--settle``
leaves out the first seconds (warm-up) of both runs. ``summary.md`` is always written (and appended to
``$GITHUB_STEP_SUMMARY`` when set); JUnit XML goes to ``--junit FILE``, or to ``junit.xml`` in the
folder when ``CI`` is set. Exit 2 for a bad argument or file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):  # run as a script: import the package, not siblings
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from load_tests.core.errors import ConfigError, HarnessError, OneLineArgumentParser
from load_tests.core.run_folder import COMPARISON_FILE, EXIT_FAILED, EXIT_PASSED, timestamp_of
from load_tests.core.summary import SCHEMA
from load_tests.launch.settings import DEFAULT_CONFIG, read_config_file
from load_tests.reporting import write_reports
from load_tests.reporting.compare import Tolerance, compare


def _load(path: Path, flag: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{flag}: file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{flag}: {path} is not a JSON run summary ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(f"{flag}: {path} is not a run summary (expected schema {SCHEMA})")
    return data


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"--settle: {value!r} is not a number of seconds") from None
    if not 0 <= seconds < 86_400:
        raise ConfigError(f"--settle: must be between 0 and 86400 seconds, got {value}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="generate_report.py", description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="locust_report_<ts>.json of the run")
    parser.add_argument("--compare", type=Path, help="an older run's summary to compare with")
    parser.add_argument("--out", type=Path, help="output folder (default: the summary's folder)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config with the compare tolerances")
    parser.add_argument("--settle", type=_seconds, help="leave out the first SECONDS of both runs (warm-up)")
    parser.add_argument("--junit", type=Path, help="write JUnit XML here (default in CI: junit.xml in the folder)")
    try:
        args = parser.parse_args(argv)
        new = _load(args.summary, "RUN.json")
        old = _load(args.compare, "--compare") if args.compare else None
        cfg = read_config_file(args.config).compare
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    out = args.out or args.summary.parent
    timestamp = timestamp_of(args.summary)
    comparison = None
    if old is not None:
        settle = cfg.settle_s if args.settle is None else args.settle
        tolerance = Tolerance(cfg.latency_pct, cfg.latency_ms, cfg.error_rate_pct, cfg.confidence, settle)
        try:
            comparison = compare(old, new, tolerance, old_label=str(args.compare))
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        out.mkdir(parents=True, exist_ok=True)
        (out / COMPARISON_FILE).write_text(json.dumps(comparison, indent=2), encoding="utf-8")
    written = write_reports(new, out, timestamp, comparison, old, junit=args.junit)
    for path in written:
        print(path)
    if comparison is None:
        return EXIT_PASSED
    counts = comparison["counts"]
    print(f"Compared with {args.compare}: {counts['regressed']} regressed, {counts['improved']} improved, "
          f"{counts['unchanged']} unchanged, {counts['too_few']} with too few samples "
          f"(under {comparison['min_samples']} per run)")  # fmt: skip
    for row in comparison["rows"]:
        if row["verdict"] in ("regressed", "improved"):
            print(f"  {row['verdict'].upper():<9} {row['scope']}: {row['reason']}")
    few = [
        f"{r['scope']} (n={r['samples'][0]}/{r['samples'][1]})" for r in comparison["rows"] if r["verdict"] == "too_few"
    ]
    if few:
        print(f"  NOT JUDGED, too few samples (under {comparison['min_samples']} per run): {', '.join(few)}")
    for row in comparison["custom"]:
        if row["moved"]:
            print(f"  MOVED     custom {row['name']} {row['figure']}: {row['old']:.3g} -> {row['new']:.3g} "
                  f"({row['delta_pct']:+.1f}%)")  # fmt: skip
    return EXIT_FAILED if comparison["regressed"] else EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())

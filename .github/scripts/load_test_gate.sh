#!/usr/bin/env bash
# The load-test workflow's gate, kept out of the YAML so tests/e2e/test_workflow_gate.py can run it as
# GitHub does. It runs the scenario, compares its summary with the baseline (the summary of the last
# run on the default branch that passed) and decides:
#   exit 0  the run passed its thresholds and no row regressed (or there was no baseline yet: says so)
#   exit 1  a threshold failed or a row regressed beyond the tolerance; other codes as run_load_tests.py
#           (2 usage/config/target, 3 no summary, 4 invalid run)
# Only a run that passed, on the default branch, copies its summary to $BASELINE_DIR/summary.json and
# writes save=true to $GITHUB_OUTPUT, so the next step caches it as the next baseline.
#
# Environment: SCENARIO, TEST_TYPE (required); TARGET_URL, DURATION, COMPARE_WITH (last-good | none),
# SETTLE (seconds of warm-up left out of the comparison), LOADTEST_CONFIG (the config of the run and of the
# comparison's tolerances, `compare:`), BASELINE_DIR (baseline), OUTPUT_DIR (reports),
# PYTHON (python), DEFAULT_BRANCH; GitHub's GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_EVENT_NAME,
# GITHUB_REF_NAME. `gate.sh key` prints the cache key prefix of this scenario, test type and target.
set -uo pipefail

PYTHON=${PYTHON:-python}
OUTPUT_DIR=${OUTPUT_DIR:-reports}
BASELINE_DIR=${BASELINE_DIR:-baseline}
COMPARE_WITH=${COMPARE_WITH:-last-good}
baseline="$BASELINE_DIR/summary.json"

output() { if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >> "$GITHUB_OUTPUT"; fi; }
note() {  # a line for the job page and the run's summary.md
    echo "$1"
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then printf '\n%s\n' "$1" >> "$GITHUB_STEP_SUMMARY"; fi
    if [ -n "${run_dir:-}" ]; then printf '\n%s\n' "$1" >> "$run_dir/summary.md"; fi
}

if [ "${1:-}" = key ]; then  # baselines are kept per scenario, test type and target
    target_hash=$(printf '%s' "${TARGET_URL:-bundled}" | sha1sum | cut -c1-10)
    echo "load-test-baseline-${SCENARIO}-${TEST_TYPE}-${target_hash}-"
    exit 0
fi
case "$COMPARE_WITH" in
    last-good|none) ;;
    *) echo "error: COMPARE_WITH: '$COMPARE_WITH' is not one of last-good, none" >&2; exit 2 ;;
esac

args=(--scenario "$SCENARIO" --test-type "$TEST_TYPE" --output-dir "$OUTPUT_DIR")
if [ -n "${TARGET_URL:-}" ]; then args+=(--host "$TARGET_URL"); fi
if [ -n "${DURATION:-}" ]; then args+=(--duration "$DURATION"); fi
# The job page gets one summary, written after the comparison below, not one per step.
GITHUB_STEP_SUMMARY='' "$PYTHON" run_load_tests.py "${args[@]}"
run_code=$?

summary=$(ls -t "$OUTPUT_DIR/$SCENARIO"/*/locust_report_*.json 2>/dev/null | head -n 1)
if [ -z "$summary" ]; then
    echo "error: the run wrote no summary (exit code $run_code)" >&2
    exit "$(( run_code == 0 ? 3 : run_code ))"
fi
run_dir=$(dirname "$summary")
output "summary=$summary"

compare_code=0
report_args=()
if [ -n "${LOADTEST_CONFIG:-}" ]; then report_args+=(--config "$LOADTEST_CONFIG"); fi  # its compare: tolerances
if [ "$COMPARE_WITH" = none ]; then
    "$PYTHON" load_tests/generate_report.py "$summary" "${report_args[@]}" > /dev/null
    note "Comparison skipped (compare with: none)."
elif [ -f "$baseline" ]; then
    "$PYTHON" load_tests/generate_report.py "$summary" --compare "$baseline" "${report_args[@]}" \
        ${SETTLE:+--settle "$SETTLE"}
    compare_code=$?
else
    "$PYTHON" load_tests/generate_report.py "$summary" "${report_args[@]}" > /dev/null
    note "No baseline yet (first run of this scenario, test type and target on the default branch): nothing to compare with, the gate passes on the thresholds alone."
fi

on_default=false
if [ "${GITHUB_EVENT_NAME:-}" = schedule ] || [ "${GITHUB_REF_NAME:-}" = "${DEFAULT_BRANCH:-main}" ]; then on_default=true; fi
if [ "$run_code" -eq 0 ] && [ "$compare_code" -eq 0 ] && [ "$on_default" = true ]; then
    mkdir -p "$BASELINE_DIR"
    cp "$summary" "$baseline"
    output "save=true"
    note "Saved as the next baseline."
else
    output "save=false"
fi
if [ "$run_code" -ne 0 ]; then exit "$run_code"; fi
exit "$compare_code"

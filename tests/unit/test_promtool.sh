#!/bin/sh
# test_promtool: the exposition passes `promtool check metrics` (parse and lint) with
# no complaint at all. Skipped (77) without promtool (package prometheus).
# Usage: test_promtool.sh METRICS_SAMPLE_EXE
set -u
if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool not found: skipped"
	exit 77
fi
out=$(mktemp) || exit 1
trap 'rm -f "$out" "$out.check"' EXIT
"$1" >"$out" || { echo "metrics_sample failed"; exit 1; }
promtool check metrics <"$out" >"$out.check" 2>&1
rc=$?
cat "$out.check"
if [ $rc -ne 0 ] || [ -s "$out.check" ]; then
	echo "promtool complained (exit $rc)"
	exit 1
fi
echo "promtool: $(wc -l <"$out") lines, no complaint"

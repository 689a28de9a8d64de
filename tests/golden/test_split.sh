#!/usr/bin/env bash
# test_split.sh: -p against the scripted fake engine. The stream's interleaving depends on
# when answers arrive, so this checks that every line has mtr 0.95's split shape and that
# the last line printed for each hop, in hop order, is byte for byte expected/split.
# HOPWATCH_UPDATE_GOLDEN=1 rewrites expected/split.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp) err=$(mktemp) last=$(mktemp)
trap 'rm -f "$out" "$err" "$last"' EXIT

HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt" \
	HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1 TZ=UTC LC_ALL=C \
	"${HOPWATCH:?}" -p -n -c 4 203.0.113.1 </dev/null >"$out" 2>"$err"
rc=$?
if ((rc != 0)) || [[ -s $err ]]; then
	echo "FAIL split: exit $rc, stderr:" >&2
	cat "$err" >&2
	exit 1
fi
if grep -Evq '^([0-9]+ [^ ]+ -?[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+|-[0-9]+)$' "$out"; then
	echo "FAIL split: lines not of mtr's split shape:" >&2
	grep -Ev '^([0-9]+ [^ ]+ -?[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+|-[0-9]+)$' "$out" >&2
	exit 1
fi
awk '$1 ~ /^[0-9]+$/ { last[$1] = $0 } END { for (h in last) print last[h] }' "$out" |
	sort -n >"$last"
if [[ ${HOPWATCH_UPDATE_GOLDEN:-} == 1 ]]; then
	cp "$last" "$here/expected/split"
	echo "updated expected/split"
	exit 0
fi
if ! cmp -s "$last" "$here/expected/split"; then
	echo "FAIL split: last lines differ from expected/split:" >&2
	diff -u "$here/expected/split" "$last" >&2
	exit 1
fi
echo "ok split ($(wc -l <"$out") lines streamed)"

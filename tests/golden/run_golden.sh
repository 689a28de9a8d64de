#!/usr/bin/env bash
# run_golden.sh NAME FLAGS...: run hopwatch against the scripted fake engine and compare
# its output byte for byte with expected/NAME. HOPWATCH_UPDATE_GOLDEN=1 rewrites the file
# instead (review the diff before committing it).
# Needs HOPWATCH (the binary); the fake engine and transcript sit beside this script.
set -u
here=$(cd "$(dirname "$0")" && pwd)
name=$1
shift
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt" \
	HOPWATCH_FAKE_TIME=1700000000 HOPWATCH_FAKE_HOSTNAME=golden-host \
	HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1 TZ=UTC LC_ALL=C \
	"${HOPWATCH:?}" "$@" >"$out" 2>"$err"
rc=$?
if ((rc != 0)) || [[ -s $err ]]; then
	echo "FAIL $name: exit $rc, stderr:" >&2
	cat "$err" >&2
	exit 1
fi
if [[ ${HOPWATCH_UPDATE_GOLDEN:-} == 1 ]]; then
	cp "$out" "$here/expected/$name"
	echo "updated expected/$name"
	exit 0
fi
if [[ ! -f $here/expected/$name ]]; then
	echo "FAIL $name: no expected/$name yet; create it with HOPWATCH_UPDATE_GOLDEN=1," \
		"check it by hand, commit it" >&2
	exit 1
fi
if ! cmp -s "$out" "$here/expected/$name"; then
	echo "FAIL $name: output differs from expected/$name:" >&2
	diff -u "$here/expected/$name" "$out" >&2
	exit 1
fi
echo "ok $name"

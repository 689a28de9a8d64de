# shellcheck shell=bash
# analyze_lib.sh: the common start of the --analyze lab tests (test_analyze_lab.sh,
# test_analyze_false_alarm.sh), sourced after lab.sh with HERE and ROUTERS set: the
# programs of the build, root and their presence checked, a work directory, the lab of
# ROUTERS kernel routers, and fail() counting into FAILS.
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
CHECK="$HERE/test_analyze_check.py"

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"
T0=$SECONDS

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

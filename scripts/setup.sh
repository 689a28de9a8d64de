#!/usr/bin/env bash
# setup.sh: bring a fresh Debian 12 machine to a built tree, and do nothing twice.
# Installs the missing build/test packages (needs root only when something is missing),
# then configures and builds the three build directories the test run uses:
#   build       normal, -Dwerror=true
#   build-asan  AddressSanitizer + UBSan, -Dwerror=true
#   build-fuzz  clang, libFuzzer targets under ASan+UBSan
# Non-interactive; reads no stdin. Builds every directory even when one fails, and exits
# non-zero if any step failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

PACKAGES=(
	build-essential meson ninja-build pkg-config clang
	libevent-dev libcmocka-dev libcap-dev libjson-c-dev libncurses-dev
	mtr-tiny nftables iproute2 iputils-ping tmux python3 clang-format
	libclang-rt-14-dev # -fsanitize=fuzzer runtime, not pulled in by clang itself
	procps             # sysctl, used by the namespace lab
	coreutils util-linux diffutils gawk
	libcap2-bin # setcap, for the test that grants the engine file capabilities
	groff-base man-db # the man page lint test (doc/test_man.sh)
	time              # GNU time -v: peak RSS in tests/integration/test_multi_target.sh
	libsystemd-dev    # sd_notify for hopwatch-monitor (READY, STATUS, WATCHDOG)
	prometheus        # promtool and the server, used by the monitor's tests
	prometheus-smokeping-prober # the monitor's scale benchmark compares against it
	valgrind          # memcheck run of the unit suite (tests/valgrind/)
	libseccomp-dev              # hopwatchd's system call filter (daemon/sandbox_seccomp.c)
	strace                      # the reaping test traces chmod/chown of the socket
)

# hopwatchd's own system user: the engine and its broker run as it after the drop.
ENGINE_USER=hopwatchd

export DEBIAN_FRONTEND=noninteractive

say() {
	printf 'setup: %s\n' "$*"
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

install_missing() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		say "all ${#PACKAGES[@]} packages present"
		return 0
	fi
	say "missing: ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		say "error: run as root to install them (apt-get install ${missing[*]})"
		return 1
	fi
	apt-get update -q </dev/null || return 1
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# configure DIR [env NAME=VALUE...] -- MESON-OPTIONS...
configure() {
	local dir=$1 envs=()
	shift
	while [[ $# -gt 0 && $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		return 0 # configured: ninja re-runs meson by itself when a meson.build changes
	fi
	say "configuring $dir: $*"
	env "${envs[@]}" meson setup "$dir" "$@" </dev/null
}

FAILED=()

step() {
	local what=$1
	shift
	if ! "$@"; then
		say "FAILED: $what"
		FAILED+=("$what")
	fi
}

step "package install" install_missing

# The engine's account: a system user and group of its own, no home, no login shell.
make_engine_user() {
	getent passwd "$ENGINE_USER" >/dev/null && return 0
	if [[ $(id -u) -ne 0 ]]; then
		say "error: run as root to create the system user $ENGINE_USER"
		return 1
	fi
	say "creating the system user $ENGINE_USER"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --comment "hopwatch packet engine" "$ENGINE_USER"
}
step "engine user" make_engine_user

build_dir() {
	local dir=$1
	shift
	configure "$dir" "$@" && ninja -C "$dir" </dev/null
}

step "build" build_dir build -- -Dwerror=true
step "build-asan" build_dir build-asan -- \
	-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
step "build-fuzz" build_dir build-fuzz CC=clang -- -Dfuzz=true \
	-Db_sanitize=address,undefined -Db_lundef=false

if ((${#FAILED[@]})); then
	say "failed steps: ${FAILED[*]}"
	exit 1
fi
say "done: build, build-asan and build-fuzz are up to date"

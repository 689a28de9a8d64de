#!/usr/bin/env bash
# test_socket_unit.sh SERVICE SOCKET UNIT_SANDBOX: hopwatchd socket-activated under its
# unit's hardening, without systemd as PID 1. systemd-socket-activate makes the
# listening socket (SocketMode=/DirectoryMode= of the socket unit) and hands it over with
# LISTEN_FDS, as systemd would; the engine starts from it with what the service unit says,
# read from the unit itself: User=/Group=, AmbientCapabilities=, CapabilityBoundingSet=,
# NoNewPrivileges=, SecureBits= and UMask= through setpriv, and SystemCallFilter=
# (expanded with systemd-analyze syscall-filter), SystemCallErrorNumber=,
# SystemCallArchitectures=, RestrictAddressFamilies= and MemoryDenyWriteExecute= through
# unit_sandbox's seccomp filter, under which the engine then installs its own. On a
# 2-router lab:
#  1. the engine runs as the unit's user with no capability, no_new_privs, both filters;
#     its broker as that user with exactly the unit's capabilities and both filters;
#  2. another local user traces through the socket, ICMP over IPv4 and UDP over IPv6;
#  3. the broker works under them: -M (SO_MARK, which the engine could not set) and -I
#     (SO_BINDTODEVICE) traces complete;
#  4. the unit's filter bites (chroot, of @privileged, and a socket family it does not
#     list are refused), so 1-3 did not pass for want of a filter;
#  5. SIGTERM: the engine and its broker leave, exit 0.
# Not approximated (they need systemd's mount namespace set-up): ProtectSystem=,
# ProtectHome=, PrivateTmp=, PrivateDevices= and the other Protect*/Private* options.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

service=${1:?usage: test_socket_unit.sh SERVICE SOCKET UNIT_SANDBOX}
socket_unit=${2:?}
sandbox=$(readlink -f "${3:?}")
ROUTERS=2
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
CLIENT_USER=nobody
WAIT_S=20
# CAP_NET_RAW (13) and CAP_NET_ADMIN (12), the broker's and nothing else.
BROKER_CAPS=0000000000003000

skip() {
	echo "SKIP: $*" >&2
	exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces and setpriv"
for cmd in systemd-socket-activate setpriv systemd-analyze python3; do
	command -v "$cmd" >/dev/null || skip "$cmd is not installed"
done
[[ -x $sandbox ]] || skip "unit_sandbox is not built (no libseccomp)"
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || skip "not built: $f"
done
# The engine's own filter is what this test is about; valgrind runs without it.
[[ -z ${HOPWATCH_VALGRIND:-} ]] || skip "under valgrind the engine installs no filter"
grep -q '^Seccomp_filters:' /proc/self/status || skip "the kernel does not count filters"

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# The last value of a unit setting (systemd: a later line overrides).
value() {
	sed -n "s/^$1=//p" "$2" | tail -n 1
}

user=$(value User "$service")
group=$(value Group "$service")
[[ -n $user && -n $group ]] || { echo "FAIL: $service names no User= and Group=" >&2; exit 1; }
id "$user" >/dev/null 2>&1 || skip "the unit's user $user does not exist (scripts/setup.sh creates it)"
uid=$(id -u "$user")
gid=$(getent group "$group" | cut -d: -f3)
[[ -n $gid ]] || skip "the unit's group $group does not exist"

# "CAP_NET_RAW CAP_NET_ADMIN" -> "+net_raw,+net_admin"
caps() {
	local c out=
	for c in $1; do
		c=${c#CAP_}
		out+=${out:+,}+${c,,}
	done
	printf '%s' "$out"
}
ambient=$(caps "$(value AmbientCapabilities "$service")")
bounding=$(caps "$(value CapabilityBoundingSet "$service")")
[[ -n $ambient && -n $bounding ]] || fail "no AmbientCapabilities= or CapabilityBoundingSet="
setpriv_args=(--reuid "$uid" --regid "$gid" --clear-groups --inh-caps "$ambient"
	--ambient-caps "$ambient" --bounding-set "-all,$bounding")
[[ $(value NoNewPrivileges "$service") == yes ]] && setpriv_args+=(--no-new-privs)
securebits=$(value SecureBits "$service")
if [[ -n $securebits ]]; then
	bits=
	for b in $securebits; do
		bits+=${bits:+,}+${b//-/_}
	done
	setpriv_args+=(--securebits "$bits")
fi
umask_value=$(value UMask "$service")
umask_value=${umask_value:-0022}

work=$(mktemp -d /tmp/hopwatch-socket-unit.XXXXXX)
chmod 755 "$work"
LAB_CLEANUP+=("rm -rf '$work'")
# The build may sit where only root can reach it (a clone in a 0700 mktemp -d): the
# engine's user and the client's run copies from the test's own 0755 directory.
mkdir -m 755 "$work/bin"
cp "$ENGINE" "$HOPWATCH" "$sandbox" "$work/bin/" || fail "cannot copy the programs to $work/bin"
ENGINE=$work/bin/$(basename "$ENGINE")
HOPWATCH=$work/bin/$(basename "$HOPWATCH")
sandbox=$work/bin/$(basename "$sandbox")

# SystemCallFilter= lines in order: an allow list, then ~ lines remove, plain lines add.
expand() {
	local name
	systemd-analyze syscall-filter --no-pager "$1" 2>/dev/null | sed -n '2,$p' |
		while read -r name; do
			case $name in
			'' | '#'*) ;;
			@*) expand "$name" ;;
			*) echo "$name" ;;
			esac
		done
}
: >"$work/allowed"
while IFS= read -r line; do
	neg=
	[[ $line == '~'* ]] && neg=1 && line=${line#\~}
	for item in $line; do
		if [[ $item == @* ]]; then expand "$item"; else echo "$item"; fi
	done | sort -u >"$work/names"
	if [[ -n $neg ]]; then
		comm -23 "$work/allowed" "$work/names" >"$work/next"
	else
		sort -u "$work/allowed" "$work/names" >"$work/next"
	fi
	mv "$work/next" "$work/allowed"
done < <(sed -n 's/^SystemCallFilter=//p' "$service")
nallowed=$(wc -l <"$work/allowed")
((nallowed > 100)) || fail "SystemCallFilter= expands to $nallowed calls only"
grep -qx capset "$work/allowed" || fail "capset is not in the unit's filter"
grep -qx chroot "$work/allowed" && fail "@privileged's chroot is in the unit's filter"
[[ $(value SystemCallErrorNumber "$service") == EPERM ]] ||
	fail "SystemCallErrorNumber= is not EPERM (unit_sandbox refuses with EPERM)"
[[ $(value SystemCallArchitectures "$service") == native ]] ||
	fail "SystemCallArchitectures= is not native (unit_sandbox allows only that)"
[[ $(value MemoryDenyWriteExecute "$service") == yes ]] ||
	fail "MemoryDenyWriteExecute= is not yes (unit_sandbox always applies it)"
families=
for fam in $(value RestrictAddressFamilies "$service"); do
	case $fam in
	AF_UNIX) n=1 ;;
	AF_INET) n=2 ;;
	AF_INET6) n=10 ;;
	AF_PACKET) n=17 ;;
	*) fail "RestrictAddressFamilies=: $fam is not known to this test" && continue ;;
	esac
	families+=${families:+,}$n
done
[[ -n $families ]] || fail "no RestrictAddressFamilies="
echo "unit: User=$user ($uid:$gid) ambient $ambient, bounding $bounding," \
	"$nallowed system calls, families $families, umask $umask_value"

sock_mode=$(value SocketMode "$socket_unit")
dir_mode=$(value DirectoryMode "$socket_unit")

lab_create "$ROUTERS"

# 4 first: the filter refuses what the unit does not allow (and allows what it does).
sb() {
	setpriv --no-new-privs "$sandbox" "$work/allowed" "$families" "$@"
}
# chroot() is @privileged: root may call it, not under the unit's filter.
chroot_py='import os, sys
try:
    os.chroot("/")
except PermissionError:
    sys.exit(1)'
python3 -c "$chroot_py" || fail "4: chroot refused outside the filter"
sb "$(command -v python3)" -c "$chroot_py" && fail "4: chroot allowed under the filter"
py='import socket, sys
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)
except PermissionError:
    sys.exit(0)
sys.exit("an AF_NETLINK socket was allowed")'
sb "$(command -v python3)" -c "$py" || fail "4: the address families are not restricted"

# An AddressSanitizer build's leak check runs at exit from a tracer thread (ptrace), which
# the unit's system call filter refuses, so LeakSanitizer aborts the exit: the leak check
# is the other sanitizer and memcheck runs' business, the confinement is this test's.
# systemd-socket-activate passes on only what -E names.
activate_env=()
if ldd "$ENGINE" 2>/dev/null | grep -q libasan; then
	activate_env=(-E "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
fi

# The socket as systemd's socket unit makes it, then the service from it.
mkdir -m "${dir_mode:-0755}" "$work/run"
sock=$work/run/engine.sock
# shellcheck disable=SC2016 # "$0" and "$@" are that sh's
ip netns exec "$LAB_SRC" systemd-socket-activate "${activate_env[@]}" -l "$sock" \
	sh -c 'umask "$0" && exec "$@"' "$umask_value" \
	setpriv "${setpriv_args[@]}" "$sandbox" "$work/allowed" "$families" "$ENGINE" \
	2>"$work/engine.err" &
activator=$!
LAB_CLEANUP+=("kill -TERM $activator 2>/dev/null")
for ((i = 0; i < WAIT_S * 10; i++)); do
	[[ -S $sock ]] && break
	sleep 0.1
done
[[ -S $sock ]] || { echo "FAIL: no socket from systemd-socket-activate: $(cat "$work/engine.err")" >&2; exit 1; }
chmod "${sock_mode:-0666}" "$sock"

rows() {
	awk '$1 ~ /^[0-9]+\.$/ || $1 ~ /^[0-9]+\.\|--$/ { n++ } END { print n + 0 }' "$1"
}
# A client of another local user, through the socket only.
trace() {
	local what=$1
	shift
	lab_src setpriv --reuid "$CLIENT_USER" --regid "$(id -g "$CLIENT_USER")" --clear-groups \
		env HOPWATCH_NO_HISTORY=1 HOPWATCH_OPTIONS= timeout 60 "$HOPWATCH" \
		--engine "unix:$sock" -r -n -c 2 -i 1 "$@" >"$work/t.out" 2>"$work/t.err"
	local rc=$?
	if ((rc != 0)) || (($(rows "$work/t.out") != ROUTERS + 1)); then
		fail "$what: exit $rc, $(rows "$work/t.out") rows: $(cat "$work/t.out" "$work/t.err")"
	else
		echo "ok: $what: $((ROUTERS + 1)) hops"
	fi
}

# The first connection starts the engine.
trace "2: ICMP over IPv4 by $CLIENT_USER" "$LAB_DST4"
# systemd-socket-activate execs the service in place (as systemd would, LISTEN_PID is
# then the engine's own), or, in other versions, forks it.
engine_pid=
if [[ $(cat "/proc/$activator/comm" 2>/dev/null) == hopwatchd ]]; then
	engine_pid=$activator
else
	engine_pid=$(pgrep -x hopwatchd -P "$activator" || true)
fi

field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}
if [[ -z $engine_pid ]]; then
	fail "1: no hopwatchd from systemd-socket-activate: $(cat "$work/engine.err")"
else
	[[ $(field "$engine_pid" Uid) == "$uid	$uid	$uid	$uid" ]] ||
		fail "1: engine Uid $(field "$engine_pid" Uid)"
	[[ $(field "$engine_pid" Gid) == "$gid	$gid	$gid	$gid" ]] ||
		fail "1: engine Gid $(field "$engine_pid" Gid)"
	for f in CapInh CapPrm CapEff CapAmb; do
		[[ $(field "$engine_pid" $f) == 0000000000000000 ]] ||
			fail "1: engine $f $(field "$engine_pid" $f)"
	done
	[[ $(field "$engine_pid" NoNewPrivs) == 1 ]] || fail "1: engine without no_new_privs"
	n=$(field "$engine_pid" Seccomp_filters)
	((n >= 2)) || fail "1: engine under $n filters, not the unit's and its own"
	broker=$(pgrep -P "$engine_pid" || true)
	if [[ -z $broker || $broker == *$'\n'* ]]; then
		fail "1: expected one broker below the engine, got '${broker//$'\n'/ }'"
	else
		[[ $(field "$broker" Uid) == "$uid	$uid	$uid	$uid" ]] ||
			fail "1: broker Uid $(field "$broker" Uid)"
		[[ $(field "$broker" CapEff) == "$BROKER_CAPS" ]] ||
			fail "1: broker CapEff $(field "$broker" CapEff)"
		bnd=$((16#$(field "$broker" CapBnd)))
		((bnd & ~16#$BROKER_CAPS)) && fail "1: broker CapBnd $(field "$broker" CapBnd)"
		[[ $(field "$broker" NoNewPrivs) == 1 ]] || fail "1: broker without no_new_privs"
		n=$(field "$broker" Seccomp_filters)
		((n >= 2)) || fail "1: broker under $n filters, not the unit's and its own"
		echo "ok: 1: engine $engine_pid and broker $broker as $user, caps 0/$BROKER_CAPS, filters" \
			"$(field "$engine_pid" Seccomp_filters)/$(field "$broker" Seccomp_filters)"
	fi
fi

trace "2: UDP over IPv6 by $CLIENT_USER" -u "$LAB_DST6"
trace "3: a marked trace (SO_MARK by the broker)" -M 7 "$LAB_DST4"
trace "3: a trace bound to its device (SO_BINDTODEVICE by the broker)" -I right -T "$LAB_DST6"

# 5. Stopping the service.
if [[ -n $engine_pid ]]; then
	kill -TERM "$engine_pid"
	for ((i = 0; i < WAIT_S * 10; i++)); do
		kill -0 "$engine_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$engine_pid" 2>/dev/null && fail "5: the engine outlived SIGTERM"
	if [[ $engine_pid == "$activator" ]]; then
		wait "$activator"
		rc=$?
		((rc == 0)) || fail "5: the engine exit $rc after SIGTERM: $(tail -3 "$work/engine.err")"
	fi
	[[ -n ${broker:-} ]] && kill -0 "$broker" 2>/dev/null && fail "5: the broker outlived the engine"
fi
grep -v -e 'connect' -e 'listening' "$work/engine.err" | grep -qi 'error\|fatal\|denied' &&
	fail "engine log: $(cat "$work/engine.err")"

((FAILS == 0)) || exit 1
echo "PASS"

#!/usr/bin/env bash
# fake_engine.sh: a scripted mtr-packet stand-in for test_driver.sh, so the driver's
# bookkeeping can be checked without root or a network. It holds answers back until
# FAKE_WINDOW probes are pending, then answers the oldest: a driver that keeps fewer in
# flight stalls; one that sends more before the first answer gets "window-exceeded" (an
# "other" answer). Every probe line is checked against the expected grammar and TTL
# cycle; a bad one gets "bad-probe".
# RTT of token t is (t - 1) * 10 us, so percentiles are known in advance.
#   FAKE_WINDOW W, FAKE_TOTAL N, FAKE_TTL_MAX T, FAKE_TARGET ADDR, FAKE_TIMEOUT S
#   FAKE_MODE plain | mixed (no-reply, probes-exhausted, duplicates, an unknown token)
#             | die (exit 3 after FAKE_DIE_AFTER probes) | hang (ignore EOF)
#             | liar (every round-trip-time is 10 s)
#   FAKE_PIDFILE: where to write our pid
set -u

window=${FAKE_WINDOW:?} total=${FAKE_TOTAL:?} ttl_max=${FAKE_TTL_MAX:?}
target=${FAKE_TARGET:?} timeout=${FAKE_TIMEOUT:?} mode=${FAKE_MODE:-plain}
[[ -n ${FAKE_PIDFILE:-} ]] && echo $$ >"$FAKE_PIDFILE"

pending=()
received=0
window_checked=0
window_wait=0.3 # seconds to see whether a probe beyond the window arrives

answer() {
	local tok=${1%:*} ttl=${1#*:} line
	local rtt=$(((tok - 1) * 10))

	[[ $mode == liar ]] && rtt=10000000 # 10 s: longer than any wait in the tests

	if [[ $mode == mixed ]]; then
		if ((tok % 5 == 0)); then
			echo "$tok no-reply"
			return
		fi
		if ((tok % 7 == 0)); then
			echo "$tok probes-exhausted"
			return
		fi
	fi
	if ((ttl == ttl_max)); then
		line="$tok reply ip-4 $target round-trip-time $rtt"
	else
		line="$tok ttl-expired ip-4 198.51.100.$((4 * ttl - 2)) round-trip-time $rtt"
	fi
	echo "$line"
	if [[ $mode == mixed ]] && ((tok % 11 == 0)); then
		echo "$line"
	fi
}

while read -r tok cmd rest; do
	case $cmd in
	check-support)
		echo "$tok feature-support support ok"
		[[ $mode == mixed ]] && echo "999999 reply ip-4 $target round-trip-time 1"
		;;
	send-probe)
		want="ip-4 $target ttl $(((tok - 2) % ttl_max + 1)) timeout $timeout"
		if [[ $rest != "$want" ]]; then
			echo "$tok bad-probe"
			continue
		fi
		received=$((received + 1))
		if [[ $mode == die ]] && ((received == ${FAKE_DIE_AFTER:?})); then
			exit 3
		fi
		pending+=("$tok:${rest#*ttl }")
		pending[-1]=${pending[-1]%% *}
		# Before the first answer a correct driver has sent exactly W probes and waits.
		if ((${#pending[@]} == window && !window_checked)); then
			window_checked=1
			if read -r -t "$window_wait" extra _; then
				echo "$extra window-exceeded"
				received=$((received + 1))
			fi
		fi
		while ((${#pending[@]} >= window || (received == total && ${#pending[@]} > 0))); do
			answer "${pending[0]}"
			pending=("${pending[@]:1}")
		done
		;;
	*)
		echo "$tok unknown-command"
		;;
	esac
done
[[ $mode == hang ]] && exec sleep 60
exit 0

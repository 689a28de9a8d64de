#!/usr/bin/env bash
# test_completion.sh SRCROOT: source completion/hopwatch in bash and drive _hopwatch as
# bash would (COMP_WORDS/COMP_CWORD): --rep completes to --report (and only to options
# that start with it), every long and short option of client/options.c is offered, -F
# and --output complete file names, --engine offers unix: and socket paths.
set -u
root=${1:?usage: test_completion.sh SRCROOT}
# shellcheck source=completion/hopwatch
source "$root/completion/hopwatch" || {
	echo "FAIL: cannot source completion/hopwatch" >&2
	exit 1
}
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# complete WORD...: COMPREPLY for the last word, one a line, sorted.
complete_words() {
	COMP_WORDS=(hopwatch "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_hopwatch
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

has() { grep -qxF -- "$2" <<<"$1"; }

got=$(complete_words --rep)
has "$got" --report || fail "--rep: no --report in '$got'"
has "$got" --report-wide || fail "--rep: no --report-wide"
if grep -v -- '^--rep' <<<"$got" | grep -q .; then
	fail "--rep offers options that do not start with it: $got"
fi
[[ $(complete_words --no-d) == --no-dns ]] || fail "--no-d: want --no-dns, got '$(complete_words --no-d)'"
[[ $(complete_words --eng) == --engine ]] || fail "--eng: want --engine"
[[ -z $(complete_words --nonsense) ]] || fail "--nonsense completed to something"

# Every option the parser knows, long and short.
all=$(complete_words -)
longs=$(sed -n 's/^[[:space:]]*{"\([a-z0-9-]*\)",.*/\1/p' "$root/client/options.c")
[[ -n $longs ]] || fail "no long options found in client/options.c"
for o in $longs; do
	has "$all" "--$o" || fail "long option --$o is not completed"
done
shorts=$(sed -n 's/^static const char short_opts\[\] = "\(.*\)";/\1/p' "$root/client/options.c" |
	tr -d ':')
[[ -n $shorts ]] || fail "no short options found in client/options.c"
for ((i = 0; i < ${#shorts}; i++)); do
	has "$all" "-${shorts:i:1}" || fail "short option -${shorts:i:1} is not completed"
done

# File names after -F, --filename and --output; socket paths after --engine unix:.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/hosts.txt" "$tmp/engine.sock"
for opt in -F --filename --output; do
	has "$(complete_words "$opt" "$tmp/hos")" "$tmp/hosts.txt" ||
		fail "$opt: file name not completed"
done
has "$(complete_words --engine un)" unix: || fail "--engine: unix: not offered"
has "$(complete_words --engine "unix:$tmp/eng")" "unix:$tmp/engine.sock" ||
	fail "--engine unix:PATH: path not completed"
# A value that is the user's own (a count) gets no option names.
[[ -z $(complete_words -c --r) ]] || fail "-c VALUE completed to option names"

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "ok: completion"

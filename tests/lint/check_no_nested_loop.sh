#!/bin/sh
# check_no_nested_loop: the hopwatch process has one event loop, run by client/main.c.
# The client core (every other .c/.h under client/ of the tree given as $1, tui.c
# included) must never run, break or leave a loop itself, or one trace would stall
# the others sharing the base. Fails on any use of event_base_loop,
# event_base_dispatch, event_base_loopbreak, event_base_loopexit,
# event_base_loopcontinue or the pre-2.0 event_loop, event_dispatch,
# event_loopexit, event_loopbreak. A use is any appearance of the name as a whole
# word in code, so a call split over lines or a pointer taken to the function
# counts too. Comments and string literals are ignored.
# Exit: 0 clean, 1 violations (listed on stdout as FILE:LINE: text), 2 usage or
# internal error.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 TREE_ROOT" >&2
	exit 2
fi
root=$1
allowed=client/main.c

names='event_base_(?:loop|dispatch|loopbreak|loopexit|loopcontinue)|event_(?:loop|dispatch|loopexit|loopbreak)'

tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp" "$tmp.hits"' EXIT
trap 'exit 2' INT TERM

[ -d "$root/client" ] || exit 0
find "$root/client" \( -type d \( -name 'build*' -o -name '.*' \) -prune \) -o \
	-type f \( -name '*.c' -o -name '*.h' \) -print | sort >"$tmp" || exit 2

status=0
while IFS= read -r file; do
	rel=${file#"$root"/}
	[ "$rel" = "$allowed" ] && continue
	# Blank comments and literals (keeping newlines, so line numbers hold), then
	# report the line each name starts on.
	NAMES=$names perl -0777 -ne '
		my $re = qr/(?<![A-Za-z0-9_])(?:$ENV{NAMES})(?![A-Za-z0-9_])/;
		s{(/\*.*?\*/)|(//[^\n]*)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)}{
			defined $1 ? "\n" x ($1 =~ tr/\n//) : defined $2 ? "" : defined $3 ? "\"\"" : "0"
		}gse;
		my @lines = split /\n/, $_, -1;
		my %seen;
		while (/$re/g) {
			my $n = 1 + (substr($_, 0, $-[0]) =~ tr/\n//);
			next if $seen{$n}++;
			print "$n: $lines[$n - 1]\n";
		}
	' "$file" >"$tmp.hits" || exit 2
	if [ -s "$tmp.hits" ]; then
		sed "s|^|$rel:|" "$tmp.hits"
		status=1
	fi
done <"$tmp"

if [ $status -ne 0 ]; then
	echo "event loop calls outside $allowed: the core must return to the caller's loop" >&2
fi
exit $status

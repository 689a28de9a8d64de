#!/bin/sh
# check_privsep_only: all privilege work lives in daemon/privsep.c (STYLE.md).
# Fails when any other .c/.h under common/ proto/ daemon/ client/ of the tree
# given as $1 calls libcap (cap_*), the setuid family, capset, or prctl with a
# capability/no_new_privs/securebits/seccomp option. Comments and string
# literals are ignored, so a log message naming setuid() is no violation.
# Exit: 0 clean, 1 violations (listed on stdout), 2 usage or internal error.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 TREE_ROOT" >&2
	exit 2
fi
root=$1
allowed=daemon/privsep.c

# Calls, with the name as a whole word followed by "(": direct, through
# syscall(SYS_x / __NR_x), and the prctl options by name (wherever they are).
pattern='\b(cap_[A-Za-z0-9_]+|setuid|seteuid|setreuid|setresuid|setgid|setegid|setregid|setresgid|setgroups|capset)\s*\(|\b(SYS|__NR)_(setuid|seteuid|setreuid|setresuid|setgid|setegid|setregid|setresgid|setgroups|capset)(32)?\b|\bPR_(SET_KEEPCAPS|CAPBSET_DROP|SET_NO_NEW_PRIVS|CAP_AMBIENT|SET_SECUREBITS|SET_SECCOMP)\b'

tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp" "$tmp.hits"' EXIT
trap 'exit 2' INT TERM

status=0
for dir in common proto daemon client; do
	[ -d "$root/$dir" ] || continue
	find "$root/$dir" \( -name '*.c' -o -name '*.h' \) -type f -print
done | sort >"$tmp" || exit 2

while IFS= read -r file; do
	rel=${file#"$root"/}
	[ "$rel" = "$allowed" ] && continue
	# Blank comments and literals (keeping newlines, so line numbers hold), then match.
	PATTERN=$pattern perl -0777 -ne '
		my $re = qr/$ENV{PATTERN}/;
		s{(/\*.*?\*/)|(//[^\n]*)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)}{
			defined $1 ? "\n" x ($1 =~ tr/\n//) : defined $2 ? "" : defined $3 ? "\"\"" : "0"
		}gse;
		my $n = 0;
		for my $line (split /\n/, $_, -1) {
			$n++;
			print "$n: $line\n" if $line =~ $re;
		}
	' "$file" >"$tmp.hits" || exit 2
	if [ -s "$tmp.hits" ]; then
		sed "s|^|$rel:|" "$tmp.hits"
		status=1
	fi
done <"$tmp"

if [ $status -ne 0 ]; then
	echo "privilege calls outside $allowed (move them into privsep.c)" >&2
fi
exit $status

#!/bin/bash
# Regenerates the mtr_* and report_* reference files from the real mtr 0.95, fed by
# mtr_fake_packet.py (MTR_PACKET) so the numbers are fixed and no probe is ever sent.
# Runs mtr inside a throwaway lab namespace all the same (tests/integration/lab.sh).
# The Start line / Start_Time are then pinned to the value test_report.c uses.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
source "$here/../../integration/lab.sh"
lab_create 1
norm() {
	sed -E 's/^Start: .*/Start: 2026-11-28T04:44:14+0000/; s/^MTR\.0\.95,[0-9]+,/MTR.0.95,1795841054,/'
}
run() {
	lab_src env MTR_PACKET="$here/mtr_fake_packet.py" TZ=UTC mtr "$@" -n -c 5 -i 0.1 203.0.113.1 </dev/null
}
all=LDRSNBAWVGJMXI
run -r | norm >"$out/report_r.txt"
run -w | norm >"$out/report_w.txt"
run -C | norm >"$out/report_C.csv"
run -x | norm >"$out/report_x.xml"
run -j >"$out/mtr_j.json"
run -r -o $all | norm >"$out/report_r_all.txt"
run -w -o $all | norm >"$out/report_w_all.txt"
run -C -o $all | norm >"$out/report_C_all.csv"
run -x -o $all | norm >"$out/report_x_all.xml"
run -j -o $all >"$out/mtr_j_all.json"
# mtr prints the bottom-of-stack bit through "%cu" (a raw 0/1 byte, then 'u'): made a digit.
lab_src env FAKE_MPLS=1 MTR_PACKET="$here/mtr_fake_packet.py" TZ=UTC \
	mtr -r -e -n -c 5 -i 0.1 203.0.113.1 </dev/null | norm |
	sed -e 's/S \x00u/S 0/' -e 's/S \x01u/S 1/' >"$out/report_r_mpls.txt"

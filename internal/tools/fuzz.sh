#!/usr/bin/env bash
# `make fuzz`: run every fuzz target of the module for FUZZTIME each, FUZZJOBS targets at once
# (FUZZFLAGS go to `go test`, e.g. FUZZFLAGS="-parallel 1" for one worker per target). Each
# target's output goes to fuzz.out/<package>.<target>.log; at the end one line per target:
#   fuzz <package> <target> time <elapsed> execs <n> new <entries> <ok|FAIL [crasher file]>
# "new" counts the inputs that reached new code and joined the target's cached corpus; a
# crasher is written to the package's testdata/fuzz/<target>/ by `go test`. The lines are
# also in fuzz.out/summary.txt. Exits non-zero when a target failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

FUZZTIME=${FUZZTIME:-5m}
FUZZJOBS=${FUZZJOBS:-1}
FUZZFLAGS=${FUZZFLAGS:-}
out=fuzz.out
rm -rf "$out" && mkdir -p "$out"

# The targets, read from the test files (listing them with go test would build every package).
go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
  cat "$dir"/*_test.go 2>/dev/null | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' | sort -u |
    while read -r t; do echo "$pkg $t"; done
done >"$out/targets"

one() {
  local pkg=$1 t=$2 log result crasher
  log="$out/${pkg##*/}.$t.log"
  echo "== $pkg $t (log: $log)"
  # shellcheck disable=SC2086
  if go test -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s $FUZZFLAGS "$pkg" >"$log" 2>&1; then
    result=ok
  else
    crasher=$(sed -n 's/.*Failing input written to \(.*\)$/\1/p' "$log" | tail -n 1)
    result="FAIL ${crasher:-see $log}"
  fi
  # The last progress line holds the totals: "fuzz: elapsed: 5m0s, execs: N (…/sec), new interesting: M (total: K)".
  local last time execs new
  last=$(grep '^fuzz: elapsed: .*execs:' "$log" | tail -n 1)
  time=$(sed -n 's/^fuzz: elapsed: \([^,]*\),.*/\1/p' <<<"$last")
  execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
  new=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
  echo "fuzz ${pkg#github.com/latticepush/latticepush/} $t time ${time:--} execs ${execs:--} new ${new:--} $result" | tee -a "$out/summary.txt"
}
export -f one
export out FUZZTIME FUZZFLAGS

xargs -P "$FUZZJOBS" -L 1 bash -c 'one "$0" "$1"' <"$out/targets"

echo "== summary ($(wc -l <"$out/targets") targets, FUZZTIME=$FUZZTIME FUZZJOBS=$FUZZJOBS FUZZFLAGS=$FUZZFLAGS)"
sort "$out/summary.txt"
! grep -q ' FAIL' "$out/summary.txt"

#!/usr/bin/env bash
# End-to-end throughput, measured side by side in one run on one generated file:
#   tokenscrub < FILE > /dev/null        (default threads, and --threads 1)
#   cat FILE | cat > /dev/null           (the pipe a filter sits in)
#   perl chain of the same rules' regexes (scripts/rules-to-perl.py), on the first PERL_MB MB
# Prints MB/s (10^6 bytes) as the median of RUNS runs, and the ratios.
#
#   scripts/bench-e2e.sh [MB]     (default 200; env RUNS=3, PERL_MB=20, EVERY=200, KEEP=1 keeps files)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-200}
RUNS=${RUNS:-3}
PERL_MB=${PERL_MB:-20}
EVERY=${EVERY:-200}
BIN=./target/release/tokenscrub
TMP=${TMPDIR:-/tmp}/tokenscrub-bench
mkdir -p "$TMP"
export TOKENSCRUB_KEY="benchmark key, not a secret: 0123456789abcdef"

[ -x "$BIN" ] || cargo build --release --quiet
FILE="$TMP/bench-${MB}mb-every${EVERY}.log"
[ -f "$FILE" ] || python3 scripts/gen-bench-log.py "$FILE" --mb "$MB" --every "$EVERY"
head -c "$((PERL_MB * 1000000))" "$FILE" | sed '$d' > "$TMP/perl-slice.log"
python3 scripts/rules-to-perl.py > "$TMP/chain.pl"

median_seconds() { # command...
  local times=()
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    bash -c "$1"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

size=$(stat -c %s "$FILE")
psize=$(stat -c %s "$TMP/perl-slice.log")
t_cat=$(median_seconds "cat '$FILE' | cat > /dev/null")
t_ts=$(median_seconds "$BIN < '$FILE' > /dev/null")
t_ts1=$(median_seconds "$BIN --threads 1 < '$FILE' > /dev/null")
t_perl=$(median_seconds "perl '$TMP/chain.pl' < '$TMP/perl-slice.log' > /dev/null")

mbps() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.1f", n / 1e6 / t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
cat_mbps=$(mbps "$size" "$t_cat"); ts_mbps=$(mbps "$size" "$t_ts"); ts1_mbps=$(mbps "$size" "$t_ts1"); perl_mbps=$(mbps "$psize" "$t_perl")
echo "input: $FILE ($((size / 1000000)) MB, one credential per $EVERY lines); perl on the first $((psize / 1000000)) MB; median of $RUNS runs"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-34s %10s MB/s\n' "cat FILE | cat > /dev/null" "$cat_mbps" "tokenscrub (default threads)" "$ts_mbps" "tokenscrub --threads 1" "$ts1_mbps" "perl chain ($(grep -c 's/' "$TMP/chain.pl") rules)" "$perl_mbps"
echo "ratio tokenscrub / cat|cat:             $(ratio "$ts_mbps" "$cat_mbps")"
echo "ratio tokenscrub --threads 1 / cat|cat: $(ratio "$ts1_mbps" "$cat_mbps")"
echo "ratio tokenscrub / perl chain:          $(ratio "$ts_mbps" "$perl_mbps")"
[ "${KEEP:-0}" = 1 ] || rm -f "$TMP/perl-slice.log"

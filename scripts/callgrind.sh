#!/usr/bin/env bash
# Instructions per span lifecycle for each setup, counted by callgrind (repeatable on a
# noisy machine). Each setup runs twice, with N1 and N2 lifecycles; the difference
# divided by N2-N1 removes start-up and shut-down. "app" counts the thread that
# records (what the application pays); "all" adds the export threads.
#
#   bash scripts/callgrind.sh [setup ...]        # default: every setup
#   KEEP=1 bash scripts/callgrind.sh ours_full   # keep the profiles for callgrind_annotate
#   SHAPE=tree bash scripts/callgrind.sh         # a root with three children per iteration
#   FAIR=0 bash scripts/callgrind.sh             # valgrind's own (unfair) thread scheduling
#
# Threads are scheduled fairly (`--fair-sched=yes`): valgrind runs one thread at a time,
# and with its default lock the recording thread takes it back at once, so the export
# threads would only run when the recording ends, behind a backlog of every item. On a
# real machine they run beside it; fair scheduling comes closer to that, for every
# setup alike.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
out=$(mktemp -d)
# A copy of the binary cargo just built, so that another checkout building into a shared
# CARGO_TARGET_DIR cannot swap it while the counts run.
built=$(cargo build --release --quiet --example lifecycle --message-format=json |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "lifecycle" and m.get("executable"):
        print(m["executable"])')
[ -x "$built" ] || { echo "could not find the built lifecycle example" >&2; exit 1; }
cp "$built" "$out/lifecycle"
bin="$out/lifecycle"
N1=${N1:-2000}
N2=${N2:-12000}
# Queues large enough that no setup drops under valgrind (see benches/support/setups.rs).
export TELEMETRY_BENCH_QUEUE=${TELEMETRY_BENCH_QUEUE:-100000}
setups=("$@")
[ ${#setups[@]} -gt 0 ] || mapfile -t setups < <("$bin" --list)
count() { # setup n -> "app all"
    local dir="$out/$1-$2"
    mkdir -p "$dir"
    valgrind --tool=callgrind $([ "${FAIR:-1}" = 0 ] || echo --fair-sched=yes) --separate-threads=yes --callgrind-out-file="$dir/cg.out" \
        "$bin" "$1" "$2" ${SHAPE:-} >/dev/null 2>&1
    local app all=0
    app=$(grep -h '^summary:' "$dir"/cg.out-01 | awk '{print $2}')
    for f in "$dir"/cg.out-*; do
        all=$((all + $(grep -h '^summary:' "$f" | awk '{print $2}')))
    done
    echo "$app $all"
}
printf '%-16s %12s %12s\n' setup app/lifecycle all/lifecycle
for s in "${setups[@]}"; do
    read -r a1 t1 < <(count "$s" "$N1")
    read -r a2 t2 < <(count "$s" "$N2")
    printf '%-16s %12d %12d\n' "$s" $(( (a2 - a1) / (N2 - N1) )) $(( (t2 - t1) / (N2 - N1) ))
done
if [ -n "${KEEP:-}" ]; then echo "profiles kept in $out"; else rm -rf "$out"; fi

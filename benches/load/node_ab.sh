#!/usr/bin/env bash
# A/B of two checkouts of @armature/core: examples/node/hello.mjs of OLD and NEW (each with its
# release addon built: `cd armature-bindings/node && npx napi build --platform --release`),
# server on CPU 0, wrk -t1 -c64 (2 s warm-up, 5 s measured) on CPU 1, interleaved rounds.
# Prints req/s and the server's CPU µs per request (utime+stime from /proc).
#   OLD=/work/wt-old NEW=$PWD ROUNDS=3 benches/load/node_ab.sh
set -euo pipefail
: "${OLD:?a checkout with its addon built}" "${NEW:?a checkout with its addon built}"
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
port=4100
for round in $(seq "$ROUNDS"); do
  for v in OLD NEW; do
    port=$((port + 1))
    taskset -c 0 node "${!v}/examples/node/hello.mjs" --port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/plaintext" && break; sleep 0.1; done
    for ep in plaintext users/42; do
      taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$port/$ep" >/dev/null
      t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
      out=$(taskset -c 1 wrk -t1 -c64 -d5s "http://127.0.0.1:$port/$ep")
      t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      reqs=$(awk '/requests in/ {print $1}' <<<"$out")
      echo "round=$round $v $ep req/s=$rps cpu_us_per_req=$(python3 -c "print(round(($t1-$t0)*1e6/$ticks/$reqs, 2))")"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done

#!/usr/bin/env bash
# A/B of two builds of one server: OLD_CMD and NEW_CMD start it with `{port}` in place of the
# port (each from its own checkout, built in release). The server runs on CPU 0, wrk -t1 -c64
# (2 s warm-up, 5 s measured) on CPU 1, OLD and NEW interleaved for ROUNDS rounds; prints req/s
# and the server's CPU µs per request (utime+stime of the process from /proc).
#
#   OLD_CMD='node /work/wt-old/examples/node/hello.mjs --port {port}' \
#   NEW_CMD='node examples/node/hello.mjs --port {port}' benches/load/ab.sh
#   OLD_CMD='/tmp/py-old/bin/python /work/wt-old/examples/python/hello.py --port {port}' \
#   NEW_CMD='/tmp/py-new/bin/python examples/python/hello.py --port {port}' benches/load/ab.sh
set -euo pipefail
: "${OLD_CMD:?the command that starts the old build, with {port}}" "${NEW_CMD:?the same for the new build}"
ROUNDS=${ROUNDS:-3}
ENDPOINTS=${ENDPOINTS:-plaintext users/42}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
port=4100
for round in $(seq "$ROUNDS"); do
  for v in OLD NEW; do
    port=$((port + 1))
    cmd_var="${v}_CMD"
    # shellcheck disable=SC2086 # the command is split into words on purpose
    taskset -c 0 ${!cmd_var//\{port\}/$port} >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/plaintext" && break; sleep 0.1; done
    for ep in $ENDPOINTS; do
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

#!/usr/bin/env bash
# Instructions per request of a server binary that takes `--port N`, counted by callgrind (no
# noise, unlike req/s on a shared VM): 5,000 warm-up requests, then the counters zeroed,
# 20,000 requests measured (h2load --h1 -c 16; with PROTO=h2, h2c prior knowledge with
# -c 16 -m 10), dumped. Needs valgrind and h2load (apt-get install valgrind nghttp2-client).
#
#   cargo build --release --example hello
#   benches/load/callgrind.sh target/release/examples/hello 4300 /plaintext
#   PROTO=h2 benches/load/callgrind.sh target/release/examples/hello 4300 /plaintext
#   SERVER_ARGS="--rate-limit 1000000000/s" benches/load/callgrind.sh target/release/examples/stack 4300 /plaintext
set -euo pipefail
bin=$1; port=$2; path=${3:-/plaintext}
case ${PROTO:-h1} in
  h1) load=(--h1 -c 16) ;;
  h2) load=(-c 16 -m 10) ;;
  *) echo "PROTO must be h1 or h2" >&2; exit 2 ;;
esac
out=${TMPDIR:-/tmp}/callgrind.out.$port
rm -f $out*
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file=$out $bin --port $port ${SERVER_ARGS:-} >/dev/null 2>&1 &
vpid=$!
for _ in $(seq 300); do curl -sf -o /dev/null http://127.0.0.1:$port/plaintext && break; sleep 0.2; done
h2load "${load[@]}" -n 5000 http://127.0.0.1:$port$path >/dev/null
callgrind_control -z >/dev/null 2>&1 || true
h2load "${load[@]}" -n 20000 http://127.0.0.1:$port$path | grep -E "^requests:" >&2
callgrind_control -d >/dev/null 2>&1 || true
sleep 1
kill $vpid; wait $vpid 2>/dev/null || true
total=0
for f in $out.[0-9]*; do
  [ -f "$f" ] || continue
  ir=$(awk '/^totals:/ {print $2}' "$f")
  [ -n "$ir" ] && total=$((total + ir))
done
echo "$bin ${PROTO:-h1} $path instructions/request: $((total / 20000))"

#!/usr/bin/env bash
# HTTP/3 beside HTTP/2 and HTTP/1.1 on the same Armature server, in one run.
#
#   benches/load/h3.sh                     # build, then measure
#   BUILD=0 DURATION=10 benches/load/h3.sh
#
# Starts `examples/hello --http3` (TLS on TCP, HTTP/3 on the same UDP port)
# pinned to CPU 0, and drives each endpoint with benches/load/h3client pinned
# to CPU 1 over h1, h2 and h3 - one client implementation for all three, all
# over TLS, so only the protocol differs. Prints a markdown table with the
# ratio of HTTP/3 to HTTP/2 and HTTP/1.1 req/s.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${PORT:-38443}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}      # h2/h3 connections (h1: H1_CONNECTIONS)
STREAMS=${STREAMS:-10}              # requests in flight per h2/h3 connection
H1_CONNECTIONS=${H1_CONNECTIONS:-64}
ENDPOINTS=${ENDPOINTS:-"plaintext json users/42"}
PROTOCOLS=${PROTOCOLS:-"h1 h2 h3"}

if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release --example hello >&2
  (cd benches/load/h3client && CARGO_TARGET_DIR=$TARGET cargo build --release >&2)
fi
HELLO=$TARGET/release/examples/hello
CLIENT=$TARGET/release/h3client

WORK=$(mktemp -d)
trap 'kill -- -$SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

if curl -s -o /dev/null -k "https://127.0.0.1:$PORT/"; then
  echo "port $PORT already answers; refusing to measure someone else" >&2; exit 1
fi
setsid taskset -c 0 "$HELLO" --port "$PORT" --runtime multi-thread --http3 \
  --cert "$WORK/cert.pem" --key "$WORK/key.pem" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do
  curl -s -o /dev/null --cacert "$WORK/cert.pem" "https://127.0.0.1:$PORT/plaintext" && break
  sleep 0.2
done

echo "| endpoint | HTTP/1.1 req/s | HTTP/2 req/s | HTTP/3 req/s | h3 / h2 | h3 / h1 | errors |"
echo "|---|---|---|---|---|---|---|"
for ep in $ENDPOINTS; do
  declare -A RPS=()
  ERR=0
  for proto in $PROTOCOLS; do
    conns=$CONNECTIONS; [ "$proto" = h1 ] && conns=$H1_CONNECTIONS
    line=$(taskset -c 1 "$CLIENT" --proto "$proto" --url "https://127.0.0.1:$PORT/$ep" \
      --cacert "$WORK/cert.pem" --connections "$conns" --streams "$STREAMS" \
      --duration "$DURATION" --warmup "$WARMUP")
    echo "$line" >&2
    RPS[$proto]=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$line")
    ERR=$((ERR + $(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$line")))
  done
  ratio() { awk -v a="${RPS[h3]:-0}" -v b="${RPS[$1]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
  echo "| /$ep | ${RPS[h1]:--} | ${RPS[h2]:--} | ${RPS[h3]:--} | $(ratio h2) | $(ratio h1) | $ERR |"
  unset RPS
done

#!/usr/bin/env bash
# Load test: Armature against peer servers, one run, side by side, as ratios.
# See benches/load/README.md. Typical use, from anywhere:
#
#   benches/load/run.sh
#   SERVERS=armature,axum PROTOCOLS=h1 ENDPOINTS=json DURATION=10 benches/load/run.sh
#
# Environment (defaults in brackets):
#   SERVERS      comma list of server names from SERVER_TABLE below  [all]
#   PROTOCOLS    h1 (wrk) and/or h2 (h2load, h2c prior knowledge)    [h1,h2]
#   ENDPOINTS    plaintext,json,user                                 [all three]
#   DURATION     wrk measured seconds                                [5]
#   WARMUP       discarded seconds of load before each measurement   [2]
#   CONNECTIONS  wrk connections                                     [64]
#   H2_REQUESTS, H2_CONNECTIONS, H2_STREAMS   h2load -n / -c / -m    [100000, 32, 10]
#   BASELINE     server the ratios are computed against              [armature]
#   BUILD        0 = use the binaries already built                  [1]
#   QUIET_MAX    machine busy % above which we wait before a server  [10]
#   QUIET_TRIES  seconds to wait for that before measuring anyway     [60]
#   NOISE_MAX    CPU % of one core taken by other processes (plus steal)
#                during a window above which it is measured again     [10]
#   RETRIES      how many times a noisy window is measured again      [2]
#   ROUNDS       run the whole server list this many times, interleaved;
#                the report shows the median and the spread per row    [1]
#   SERVER_CPU, CLIENT_CPU   taskset CPUs for server / load generator [0, 1]
#   CARGO_TARGET_DIR         honoured for every cargo build
#   PY_VENV      virtualenv of the Python servers (created by their build
#                step)                                  [$CARGO_TARGET_DIR or target/load-venv]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=$HERE/peers
LIB=(python3 "$HERE/loadlib.py")

SERVERS=${SERVERS:-}
PROTOCOLS=${PROTOCOLS:-h1,h2}
ENDPOINTS=${ENDPOINTS:-plaintext,json,user}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
H2_REQUESTS=${H2_REQUESTS:-100000}
H2_CONNECTIONS=${H2_CONNECTIONS:-32}
H2_STREAMS=${H2_STREAMS:-10}
BASELINE=${BASELINE:-armature}
BUILD=${BUILD:-1}
QUIET_MAX=${QUIET_MAX:-10}
QUIET_TRIES=${QUIET_TRIES:-60}
NOISE_MAX=${NOISE_MAX:-10}
RETRIES=${RETRIES:-2}
ROUNDS=${ROUNDS:-1}
ROUND=1
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if [[ -n ${CARGO_TARGET_DIR:-} && $CARGO_TARGET_DIR != /* ]]; then
    CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR
    export CARGO_TARGET_DIR
fi
ROOT_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PEERS_TARGET=${CARGO_TARGET_DIR:-$PEERS/target}
PY_VENV=${PY_VENV:-$ROOT_TARGET/load-venv}

# ---------------------------------------------------------------- what to run
# Servers: "name|port|protocols|build step|command".
# - "{port}" in the command becomes the port. The command is run as
#   `exec <command>` (use `env VAR=x cmd` for variables); it must serve the
#   ENDPOINT_TABLE endpoints on 127.0.0.1:<port> in the foreground.
# - protocols: what the server speaks, of h1 (HTTP/1.1) and h2 (h2c prior
#   knowledge); it is measured on those of PROTOCOLS it speaks.
# - build step: a function build_<step> below, run once before any measurement
#   if a selected server needs it; a failing step drops its servers with a message.
# Keep armature first: it is the baseline of the ratios.
SERVER_TABLE=(
    "armature|18080|h1,h2|armature_hello|$ROOT_TARGET/release/examples/hello --port {port}"
    "armature-mt|18085|h1,h2|armature_hello|$ROOT_TARGET/release/examples/hello --port {port} --runtime multi-thread"
    "armature-percore|18086|h1,h2|armature_hello|$ROOT_TARGET/release/examples/hello --port {port} --runtime per-core"
    # The full stack: request id, analytics, logger (an access line per request to stdout,
    # buffered: the server log file), CORS, a rate limit whose quota (10^9/s per client IP)
    # never refuses, router. -tracing: the access log as tracing events (fmt to stderr);
    # -quiet: those events filtered out (RUST_LOG=warn), to show what the log line costs.
    "armature-stack|18084|h1,h2|armature_stack|$ROOT_TARGET/release/examples/stack --port {port} --rate-limit 1000000000/s"
    "armature-stack-tracing|18088|h1,h2|armature_stack|$ROOT_TARGET/release/examples/stack --port {port} --rate-limit 1000000000/s --access-log tracing"
    "armature-stack-quiet|18087|h1,h2|armature_stack|env RUST_LOG=warn $ROOT_TARGET/release/examples/stack --port {port} --rate-limit 1000000000/s --access-log tracing"
    "axum|18081|h1,h2|peers|$PEERS_TARGET/release/peer-axum --port {port}"
    "actix-web|18082|h1,h2|peers|$PEERS_TARGET/release/peer-actix --port {port}"
    "hyper|18083|h1,h2|peers|$PEERS_TARGET/release/peer-hyper --port {port}"
    # axum behind the ecosystem's layers for the preset stack's jobs (tower-http request id,
    # TraceLayer access log to stdout, CORS; tower_governor; axum-prometheus): armature-stack's peer.
    "axum-stack|18089|h1,h2|peers|$PEERS_TARGET/release/peer-axum-stack --port {port}"
    # Node: @armature/core with JS handlers, the same with /plaintext and /json as constant
    # responses answered in Rust (never entering JS), and the Node peers. Node is
    # single-threaded for JS; the addon's tokio runtime sizes itself from the CPUs allowed.
    "armature-node|18090|h1,h2|armature_node|node $ROOT/examples/node/hello.mjs --port {port}"
    "armature-node-static|18091|h1,h2|armature_node|node $ROOT/examples/node/hello.mjs --port {port} --static"
    "fastify|18092|h1|node_peers|node $HERE/node/fastify.mjs --port {port}"
    # Both with route schemas on /json and /users/:id (validation + response serialization).
    "armature-node-schema|18094|h1,h2|armature_node|node $ROOT/examples/node/hello.mjs --port {port} --schema"
    "fastify-schema|18095|h1|node_peers|node $HERE/node/fastify.mjs --port {port} --schema"
    "node-http|18093|h1|node_peers|node $HERE/node/node-http.mjs --port {port}"

    # Python (benches/load/python/README.md): one process each. uvicorn, Robyn and Granian
    # (as run here) speak HTTP/1.1 only. armature-py has no optional middleware, like its
    # peers; armature-py-stack is examples/python/hello.py (logger below its level, CORS).
    "armature-py|18100|h1,h2|python|$PY_VENV/bin/python $HERE/python/armature_app.py --host 127.0.0.1 --port {port}"
    "armature-py-stack|18104|h1,h2|python|env ARMATURE_LOG=warn $PY_VENV/bin/python $ROOT/examples/python/hello.py --host 127.0.0.1 --port {port}"
    "fastapi|18101|h1|python|$PY_VENV/bin/uvicorn fastapi_app:app --app-dir $HERE/python --host 127.0.0.1 --port {port} --workers 1 --loop uvloop --http httptools --no-access-log"
    "robyn|18102|h1|python|$PY_VENV/bin/python $HERE/python/robyn_app.py --port {port} --processes 1 --workers 1"
    "granian|18103|h1|python|$PY_VENV/bin/granian --interface asgi --host 127.0.0.1 --port {port} --workers 1 --loop uvloop --no-ws --working-dir $HERE/python granian_app:app"
)

build_armature_hello() { (cd "$ROOT" && cargo build --release --example hello); }
build_armature_stack() { (cd "$ROOT" && cargo build --release --example stack); }
build_peers() { (cd "$PEERS" && cargo build --release); }
# npm ci builds the addon (release) through the package's `prepare` script.
build_armature_node() { (cd "$ROOT/armature-bindings/node" && npm ci --no-audit --no-fund --loglevel=error); }
build_node_peers() { (cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error); }

build_python() { # a virtualenv with the pinned peers and this repository's Python package
    [[ -x $PY_VENV/bin/python ]] || python3 -m venv "$PY_VENV"
    local pip=("$PY_VENV/bin/pip" install --quiet --disable-pip-version-check)
    "${pip[@]}" -r "$HERE/python/requirements.txt"
    # maturin builds the extension (release, honouring CARGO_TARGET_DIR); --force-reinstall
    # so a changed binding is rebuilt even though its version number is not.
    "${pip[@]}" --force-reinstall --no-deps "$ROOT/armature-bindings/python"
}

# Endpoints: "name|path|content type|exact body".
ENDPOINT_TABLE=(
    'plaintext|/plaintext|text/plain|Hello, World!'
    'json|/json|application/json|{"message":"Hello, World!"}'
    'user|/users/42|application/json|{"id":"42","name":"Alice"}'
)

# ---------------------------------------------------------------- helpers
log() { printf '%s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; NOTES+=("$*"); }
in_list() { [[ ,$2, == *,"$1",* ]]; }

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    command -v curl >/dev/null || missing+=(curl)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v python3 >/dev/null || missing+=(python3)
    ((${#missing[@]} == 0)) && return 0
    log "installing: ${missing[*]}"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

SERVER_PID=
start_server() { # port command -> sets SERVER_PID
    local port=$1 cmd=${2//\{port\}/$1}
    # `loadlib.py spawn` makes the server lead its own process group (then execs
    # it, keeping the pid), so its CPU time can be summed over the group (servers
    # that fork workers) and the whole group stopped by that id.
    taskset -c "$SERVER_CPU" "${LIB[@]}" spawn bash -c "exec $cmd" >"$RAW/$name.server.r$ROUND.log" 2>&1 &
    SERVER_PID=$!
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID i
    SERVER_PID=
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
trap 'stop_server' EXIT
# Interrupted: stop the server and still report what was measured.
trap 'log "interrupted"; stop_server; NOTES+=("run interrupted: incomplete"); write_report; exit 130' INT TERM

wait_port() { # port seconds
    local port=$1 deadline=$((SECONDS + $2))
    until port_open "$port"; do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

check_endpoint() { # port proto path content-type body
    local port=$1 proto=$2 path=$3 want_ct=$4 want_body=$5 flag out code ct version
    [[ $proto == h2 ]] && flag=--http2-prior-knowledge || flag=--http1.1
    if ! out=$(curl -sS --max-time 5 "$flag" -o "$RAW/body" \
        -w '%{http_code}|%{http_version}|%{content_type}' "http://127.0.0.1:$port$path" 2>&1); then
        log "  $proto GET $path: request failed: $out"
        return 1
    fi
    IFS='|' read -r code version ct <<<"$out"
    local want_version=1.1
    [[ $proto == h2 ]] && want_version=2
    if [[ $code != 200 || $version != "$want_version" ]]; then
        log "  $proto GET $path: status $code over HTTP/$version (want 200 over HTTP/$want_version)"
        return 1
    fi
    # Compare the media type; parameters (e.g. "; charset=utf-8") are reported, not rejected.
    local media=${ct%%;*}
    media=${media// /}
    if [[ ${media,,} != "$want_ct" ]]; then
        log "  $proto GET $path: content-type '$ct', want '$want_ct'"
        return 1
    fi
    [[ $ct == "$want_ct" ]] || CT_NOTES+=("$name: GET $path answers content-type '$ct'")
    if ! printf '%s' "$want_body" | cmp -s - "$RAW/body"; then
        log "  $proto GET $path: body '$(head -c 200 "$RAW/body")', want '$want_body'"
        return 1
    fi
}

quiet_check() { # [quiet] -> sets BUSY; waits up to QUIET_TRIES seconds for a quiet machine
    local i
    for i in $(seq "$QUIET_TRIES"); do
        BUSY=$("${LIB[@]}" busy 1)
        if awk -v b="$BUSY" -v m="$QUIET_MAX" 'BEGIN { exit !(b < m) }'; then
            ((i == 1)) || log "  machine quiet after $i s (busy ${BUSY}%)"
            return 0
        fi
        ((i == 1)) && log "  machine busy ${BUSY}% (>= ${QUIET_MAX}%): waiting up to ${QUIET_TRIES} s for it to calm down..."
    done
    if [[ ${1:-} == quiet ]]; then
        log "  machine still busy (${BUSY}%) after ${QUIET_TRIES} s"
    else
        warn "$name: machine still busy (${BUSY}%) after ${QUIET_TRIES} s; measured anyway, numbers suspect"
    fi
}

load_cmd_words() { # proto url [warmup] -> the load generator's command line
    local proto=$1 url=$2 mode=${3:-measure}
    local secs=$DURATION
    [[ $mode == warmup ]] && secs=$WARMUP
    if [[ $proto == h1 ]]; then
        echo taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "$url"
    elif [[ $mode == warmup ]]; then
        echo taskset -c "$CLIENT_CPU" h2load -D "$WARMUP" -c "$H2_CONNECTIONS" -m "$H2_STREAMS" "$url"
    else
        echo taskset -c "$CLIENT_CPU" h2load -n "$H2_REQUESTS" -c "$H2_CONNECTIONS" -m "$H2_STREAMS" "$url"
    fi
}

load_cmd() { # proto url warmup: run it
    # shellcheck disable=SC2046 # the words are plain tokens (no spaces)
    $(load_cmd_words "$@")
}

measure() { # port proto endpoint path -> appends a row to $TSV
    local port=$1 proto=$2 ep=$3 path=$4
    local url="http://127.0.0.1:$port$path" raw="$RAW/$name.$proto.$ep.r$ROUND.txt"
    local tool=wrk attempt win noise rps requests lat errors wall_s cpu_s client_s other_s steal_s
    [[ $proto == h2 ]] && tool=h2load
    for attempt in $(seq $((RETRIES + 1))); do
        load_cmd "$proto" "$url" warmup >/dev/null 2>&1 || { log "  $tool warm-up failed"; return 1; }
        # The measured window: server CPU (utime+stime, /proc/<pid>/stat) and
        # machine CPU (/proc/stat) are read right before and after the tool runs.
        if ! win=$("${LIB[@]}" window "$SERVER_PID" "$raw" $(load_cmd_words "$proto" "$url")); then
            log "  $tool failed: $(tail -3 "$raw")"
            return 1
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { log "  server died during the run"; return 1; }
        IFS=$'\t' read -r wall_s cpu_s client_s other_s steal_s <<<"$win"
        IFS=$'\t' read -r rps requests lat errors < <("${LIB[@]}" "$tool" "$raw") || true
        if [[ -z ${requests:-} || ${requests:-0} == 0 ]]; then
            log "  could not read $tool's results (raw output: $raw)"
            return 1
        fi
        noise=$(awk -v o="$other_s" -v s="$steal_s" -v w="$wall_s" 'BEGIN { printf "%.0f", 100 * (o + s) / w }')
        awk -v p="$proto" -v e="$ep" -v r="$rps" -v q="$requests" -v l="$lat" -v c="$cpu_s" \
            -v w="$wall_s" -v g="$client_s" -v n="$noise" -v x="$errors" 'BEGIN {
            printf "  %-3s %-10s %8.0f req/s  %-20s server %3.0f%% of a core, %6.2f us/req; load gen %3.0f%%; other %s%%%s\n",
                p, e, r, l, 100 * c / w, 1e6 * c / q, 100 * g / w, n, (x > 0 ? "  ERRORS: " x : "")
        }' >&2
        ((noise < NOISE_MAX)) && break
        if ((attempt <= RETRIES)); then
            log "  other processes took ${noise}% of a core during the window: measuring again"
            quiet_check quiet
        else
            warn "$name $proto $ep: other processes took ${noise}% of a core during the measured window; numbers suspect"
        fi
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$proto" "$ep" "$rps" "$requests" \
        "$lat" "$wall_s" "$cpu_s" "$client_s" "$other_s" "$steal_s" "$SERVER_BUSY" "$errors" >>"$TSV"
    ((errors == 0)) || warn "$name $proto $ep: $errors failed or non-2xx requests (see $raw)"
}

# ---------------------------------------------------------------- report
write_report() {
    local OUT=$RESULTS/$STAMP.md
    {
        echo "# Load test, $(date '+%Y-%m-%d %H:%M:%S %Z')"
        echo
        echo "- commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo 'none')$(cd "$ROOT" && [[ -n $(git status --porcelain 2>/dev/null) ]] && echo ' (work tree has changes)')"
        echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
        echo "- server pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU (taskset): single-core numbers"
        ((ROUNDS == 1)) || echo "- $ROUNDS rounds, servers interleaved; each row is the median of its rounds (spread = (max - min) / median of req/s, then each round's req/s in run order)"
        echo "- HTTP/1.1: \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` ($(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)); latency column is wrk's p99"
        echo "- HTTP/2: \`h2load -n $H2_REQUESTS -c $H2_CONNECTIONS -m $H2_STREAMS\`, h2c prior knowledge ($(h2load --version | head -1)); h2load prints no percentiles, so the latency column is its mean / max \"time for request\""
        echo "- each measurement preceded by ${WARMUP} s of discarded load; server CPU = utime+stime from /proc/<pid>/stat (whole process group) over the measured window, CLK_TCK=$CLK_TCK; a window where other processes took >= ${NOISE_MAX}% of a core is measured again (up to $RETRIES times)"
        echo "- peers: $(awk '/^name = /{n=$3} /^version = /{ if (n ~ /^"(axum|actix-web|hyper|hyper-util|tokio)"$/) { gsub(/"/, "", n); gsub(/"/, "", $3); printf "%s %s, ", n, $3 } }' "$PEERS/Cargo.lock" 2>/dev/null | sed 's/, $//')"
        echo "- machine busy % before each server (/proc/stat over 1 s): $(awk -F'\t' '!seen[$1]++ { printf "%s%s %s", sep, $1, $12; sep = ", " }' "$TSV")"
        echo
        if [[ -s $TSV ]]; then "${LIB[@]}" report "$TSV" "$BASELINE"; else echo "_No measurement succeeded._"; echo; fi
        if ((${#NOTES[@]} + ${#CT_NOTES[@]} > 0)); then
            echo "Notes:"
            printf '%s\n' "${NOTES[@]}" | sed '/^$/d; s/^/- /'
            printf '%s\n' "${CT_NOTES[@]}" | sed '/^$/d' | sort -u | sed 's/^/- /'
            echo
        fi
        echo "Raw tool output: \`benches/load/results/$STAMP/\`."
    } >"$OUT"

    echo
    cat "$OUT"
    log "written to $OUT"
}

# ---------------------------------------------------------------- main
if [[ -n $SERVERS ]]; then
    for want in ${SERVERS//,/ }; do
        printf '%s\n' "${SERVER_TABLE[@]}" | grep -q "^$want|" || { log "unknown server '$want'"; exit 2; }
    done
fi
for want in ${PROTOCOLS//,/ }; do
    [[ $want == h1 || $want == h2 ]] || { log "unknown protocol '$want' (h1, h2)"; exit 2; }
done
for want in ${ENDPOINTS//,/ }; do
    printf '%s\n' "${ENDPOINT_TABLE[@]}" | grep -q "^$want|" || { log "unknown endpoint '$want'"; exit 2; }
done

NOTES=()
CT_NOTES=()
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK NOISE_MAX
STAMP=$(date +%Y-%m-%d_%H%M%S)
RESULTS=$HERE/results
RAW=$RESULTS/$STAMP
TSV=$RAW/results.tsv
mkdir -p "$RAW"
: >"$TSV"

ensure_tools

# Select servers, keeping table order.
selected=()
for entry in "${SERVER_TABLE[@]}"; do
    IFS='|' read -r name _ _ _ _ <<<"$entry"
    if [[ -z $SERVERS ]] || in_list "$name" "$SERVERS"; then selected+=("$entry"); fi
done

# Build each needed step once; drop the servers whose step failed.
if [[ $BUILD != 0 ]]; then
    declare -A step_ok=()
    for entry in "${selected[@]}"; do
        IFS='|' read -r name _ _ step _ <<<"$entry"
        [[ -n ${step_ok[$step]:-} ]] && continue
        log "building: $step"
        start=$SECONDS
        if "build_$step" >"$RAW/build-$step.log" 2>&1; then
            step_ok[$step]=1
            log "  ok ($((SECONDS - start)) s)"
        else
            step_ok[$step]=0
            tail -5 "$RAW/build-$step.log" | sed 's/^/  | /' >&2
            log "  (full log: $RAW/build-$step.log)"
        fi
    done
    kept=()
    for entry in "${selected[@]}"; do
        IFS='|' read -r name _ _ step _ <<<"$entry"
        if [[ ${step_ok[$step]} == 1 ]]; then kept+=("$entry"); else warn "$name: build step '$step' failed; not measured"; fi
    done
    selected=("${kept[@]}")
fi

run_server() { # SERVER_TABLE entry: start, check, measure, stop
    local port speaks cmd proto ep path ct body ep_entry ok protos=()
    IFS='|' read -r name port speaks _ cmd <<<"$1"
    for proto in ${PROTOCOLS//,/ }; do
        if in_list "$proto" "$speaks"; then
            protos+=("$proto")
        elif ((ROUND == 1)); then
            NOTES+=("$name: does not speak $proto; not measured over it")
        fi
    done
    ((${#protos[@]} > 0)) || return 0
    log ""
    log "== $name (port $port)$( ((ROUNDS == 1)) || echo ", round $ROUND of $ROUNDS")"
    BUSY=nan
    if port_open "$port"; then
        warn "$name: port $port is already in use by another process; not measured"
        return 0
    fi
    start_server "$port" "$cmd"
    if ! wait_port "$port" 30; then
        warn "$name: did not answer on port $port within 30 s (log: $RAW/$name.server.r$ROUND.log)"
        tail -5 "$RAW/$name.server.r$ROUND.log" | sed 's/^/  | /' >&2 || true
        stop_server
        return 0
    fi
    ok=1
    for proto in "${protos[@]}"; do
        for ep_entry in "${ENDPOINT_TABLE[@]}"; do
            IFS='|' read -r ep path ct body <<<"$ep_entry"
            in_list "$ep" "$ENDPOINTS" || continue
            check_endpoint "$port" "$proto" "$path" "$ct" "$body" || ok=0
        done
    done
    if ((ok == 0)); then
        warn "$name: wrong answer (see above); not measured"
        stop_server
        return 0
    fi
    quiet_check
    SERVER_BUSY=$BUSY
    log "  machine busy before the run: ${BUSY}%; server pid $SERVER_PID on CPU $SERVER_CPU, load on CPU $CLIENT_CPU"
    for proto in "${protos[@]}"; do
        for ep_entry in "${ENDPOINT_TABLE[@]}"; do
            IFS='|' read -r ep path _ _ <<<"$ep_entry"
            in_list "$ep" "$ENDPOINTS" || continue
            if ! measure "$port" "$proto" "$ep" "$path"; then
                warn "$name $proto $ep: measurement failed"
                kill -0 "$SERVER_PID" 2>/dev/null || { stop_server; return 0; }
            fi
        done
    done
    stop_server
}

# Rounds interleave the servers (A B C, A B C, ...), so a slow drift of the
# machine does not land on one server; the report takes the median per row.
for ROUND in $(seq "$ROUNDS"); do
    for entry in "${selected[@]}"; do
        run_server "$entry"
    done
done

write_report

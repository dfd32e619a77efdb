#!/usr/bin/env python3
"""Helpers for benches/load/run.sh (Python 3 standard library only).

Subcommands:
  spawn CMD...              become a session (process-group) leader, then exec CMD
  window PID OUT CMD...     run the load generator CMD (output to OUT) and print,
                            tab-separated, for that window: wall s, CPU s of the
                            server PID (group), CPU s of CMD, CPU s of everything
                            else on the machine, steal s (from /proc/stat)
  busy SECONDS              machine-wide CPU busy % over SECONDS, from /proc/stat
  cputicks PID              utime+stime (clock ticks) of PID; if PID leads its own
                            process group (run.sh starts servers with setsid), the
                            sum over every process in that group, so servers that
                            fork workers are counted whole
  wrk FILE                  parse `wrk --latency` output
  h2load FILE               parse `h2load` output
  report TSV BASELINE       print the markdown tables for the rows in TSV

wrk/h2load print one tab-separated line: rps, requests, latency, errors
(latency as "p99=US" for wrk, "mean=US,max=US" for h2load).
"""

import math
import os
import re
import subprocess
import sys
import time

UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def to_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * UNITS_US[m.group(2)]


def cpu_busy(seconds):
    def snap():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        return sum(vals[:8]), idle  # guest time is already inside user/nice

    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    total = t1 - t0
    return 0.0 if total <= 0 else 100.0 * (total - (i1 - i0)) / total


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # the command name may contain spaces and parentheses: split after the last ')'
    rest = data[data.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); pgrp is field 5, utime 14, stime 15
    return {"pgrp": int(rest[2]), "ticks": int(rest[11]) + int(rest[12])}


def cputicks(pid):
    own = stat_fields(pid)
    if own["pgrp"] != pid:
        return own["ticks"]
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = stat_fields(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        if st["pgrp"] == pid:
            total += st["ticks"]
    return total


def machine_ticks():
    """(busy, steal) clock ticks summed over all CPUs since boot."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    vals += [0] * (8 - len(vals))
    user, nice, system, _idle, _iowait, irq, softirq, steal = vals[:8]
    return user + nice + system + irq + softirq, steal


def window(server_pid, outfile, cmd):
    hz = int(os.environ.get("CLK_TCK") or os.sysconf("SC_CLK_TCK"))  # run.sh: getconf CLK_TCK
    s0 = cputicks(server_pid)
    b0, st0 = machine_ticks()
    t0 = time.monotonic()
    with open(outfile, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
    t1 = time.monotonic()
    b1, st1 = machine_ticks()
    s1 = cputicks(server_pid)
    server = (s1 - s0) / hz
    client = ru.ru_utime + ru.ru_stime
    other = max(0.0, (b1 - b0) / hz - server - client)
    print(f"{t1 - t0:.4f}\t{server:.4f}\t{client:.4f}\t{other:.4f}\t{(st1 - st0) / hz:.4f}")
    return os.waitstatus_to_exitcode(status)


def spawn(cmd):
    try:
        os.setsid()
    except PermissionError:
        pass  # already a process-group leader (started under job control): fine as well
    os.execvp(cmd[0], cmd)


def parse_wrk(text):
    out = {}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+)", text, re.M)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    out["lat"] = f"p99={to_us(m.group(1)):.0f}" if m else "p99=nan"
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    out["errors"] = errors
    return out


def parse_h2load(text):
    out = {}
    m = re.search(r"^finished in \S+, ([0-9.]+) req/s", text, re.M)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(
        r"^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        text,
        re.M,
    )
    if m:
        done, ok, failed, errored, timeout = (int(g) for g in m.groups())
        out["requests"] = ok
        errors = failed + errored + timeout + (done - ok)
    else:
        out["requests"] = 0
        errors = 1
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        errors += sum(int(g) for g in m.groups()[1:])
    out["errors"] = errors
    # h2load 1.52 prints no percentiles: min / max / mean / sd of "time for request"
    m = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    out["lat"] = f"mean={to_us(m.group(3)):.0f},max={to_us(m.group(2)):.0f}" if m else "mean=nan,max=nan"
    return out


def fmt_row(d):
    return "\t".join(str(d[k]) for k in ("rps", "requests", "lat", "errors"))


# ---------------------------------------------------------------- report

COLUMNS = [
    "server", "proto", "endpoint", "rps", "requests", "lat",
    "wall_s", "cpu_s", "client_s", "other_s", "steal_s", "busy", "errors",
]


NOISY_PCT = float(os.environ.get("NOISE_MAX", "10"))


def fmt_us(us):
    if math.isnan(us):
        return "n/a"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def fmt_ratio(x):
    return "n/a" if x is None or math.isnan(x) else f"{x:.2f}×"


def read_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            vals = line.rstrip("\n").split("\t")
            row = dict(zip(COLUMNS, vals))
            for k in ("rps", "wall_s", "cpu_s", "client_s", "other_s", "steal_s", "busy"):
                row[k] = float(row[k])
            row["requests"] = int(row["requests"])
            row["errors"] = int(row["errors"])
            lat = dict(kv.split("=") for kv in row["lat"].split(","))
            row["lat"] = {k: float(v) for k, v in lat.items()}
            row["cpu_us_req"] = (
                row["cpu_s"] * 1e6 / row["requests"] if row["requests"] else float("nan")
            )
            wall = row["wall_s"] if row["wall_s"] > 0 else float("nan")
            row["core_pct"] = 100.0 * row["cpu_s"] / wall
            row["client_pct"] = 100.0 * row["client_s"] / wall
            row["noise_pct"] = 100.0 * (row["other_s"] + row["steal_s"]) / wall
            rows.append(row)
    return rows


def median(xs):
    xs = sorted(x for x in xs if not math.isnan(x))
    if not xs:
        return float("nan")
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def aggregate(rows):
    """One row per (server, proto, endpoint): the median over rounds."""
    groups = {}
    for r in rows:
        groups.setdefault((r["server"], r["proto"], r["endpoint"]), []).append(r)
    out = []
    for (server, proto, endpoint), rs in groups.items():
        rps = [r["rps"] for r in rs]
        med = median(rps)
        out.append({
            "server": server, "proto": proto, "endpoint": endpoint, "n": len(rs),
            "rps": med,
            "spread": (max(rps) - min(rps)) / med if med else float("nan"),
            # In run order: a machine that switches speed mid-run shows as two clusters.
            "rounds": rps,
            "cpu_us_req": median([r["cpu_us_req"] for r in rs]),
            "lat": {k: median([r["lat"].get(k, float("nan")) for r in rs]) for k in rs[0]["lat"]},
            "core_pct": median([r["core_pct"] for r in rs]),
            "client_pct": median([r["client_pct"] for r in rs]),
            "noise_pct": max(r["noise_pct"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        })
    return out


def report(path, baseline):
    rows = aggregate(read_rows(path))
    rounds = max(r["n"] for r in rows)
    titles = {
        "h1": "HTTP/1.1 (wrk)",
        "h2": "HTTP/2 h2c prior knowledge (h2load)",
    }
    lines = []
    for proto in dict.fromkeys(r["proto"] for r in rows):
        prow = [r for r in rows if r["proto"] == proto]
        servers = list(dict.fromkeys(r["server"] for r in prow))
        base = baseline if baseline in servers else servers[0]
        lines.append(f"### {titles.get(proto, proto)}")
        lines.append("")
        if base != baseline:
            lines.append(f"_`{baseline}` was not measured: ratios are against `{base}`._")
            lines.append("")
        if proto == "h2":
            lat_head = "latency mean / max"
        else:
            lat_head = "p99 latency"
        spread_head, spread_align = (
            (" req/s spread (each round) |", "--:|") if rounds > 1 else ("", "")
        )
        lines.append(
            f"| server | endpoint | req/s |{spread_head} {lat_head} | server CPU µs/req "
            f"| req/s vs {base} | CPU/req vs {base} | server core % | load-gen core % | other % | errors |"
        )
        lines.append(f"|---|---|--:|{spread_align}--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in prow:
            b = next((x for x in prow if x["server"] == base and x["endpoint"] == r["endpoint"]), None)
            rps_ratio = r["rps"] / b["rps"] if b and b["rps"] else None
            cpu_ratio = r["cpu_us_req"] / b["cpu_us_req"] if b and b["cpu_us_req"] else None
            if proto == "h2":
                lat = f"{fmt_us(r['lat'].get('mean', float('nan')))} / {fmt_us(r['lat'].get('max', float('nan')))}"
            else:
                lat = fmt_us(r["lat"].get("p99", float("nan")))
            err = str(r["errors"]) if r["errors"] == 0 else f"**{r['errors']}**"
            noise = f"{r['noise_pct']:.0f}"
            if r["noise_pct"] >= NOISY_PCT:
                noise = f"**{noise}**"
            each = " / ".join(f"{x / 1000:.0f}k" for x in r["rounds"])
            spread = f" {100 * r['spread']:.0f}% ({each}) |" if rounds > 1 else ""
            lines.append(
                f"| {r['server']} | {r['endpoint']} | {r['rps']:,.0f} |{spread} {lat} | {r['cpu_us_req']:.2f} "
                f"| {fmt_ratio(rps_ratio)} | {fmt_ratio(cpu_ratio)} "
                f"| {r['core_pct']:.0f} | {r['client_pct']:.0f} | {noise} | {err} |"
            )
        lines.append("")
    lines.append(
        "Server core %: the server's CPU time over the window (100 = its core was the limit; "
        "clearly less = the load generator or interference limited the run). Load-gen core %: "
        "the same for wrk/h2load. Other %: CPU time of every other process plus hypervisor steal, "
        f"in % of one core; bold from {NOISY_PCT:.0f}% (that row is suspect)."
        + (" With several rounds each figure is the median over the rounds (other %: the maximum)."
           if rounds > 1 else "")
    )
    lines.append("")
    print("\n".join(lines))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "spawn":
        spawn(argv[2:])
    elif cmd == "window":
        return window(int(argv[2]), argv[3], argv[4:])
    elif cmd == "busy":
        print(f"{cpu_busy(float(argv[2]) if len(argv) > 2 else 1.0):.1f}")
    elif cmd == "cputicks":
        print(cputicks(int(argv[2])))
    elif cmd == "wrk":
        with open(argv[2]) as f:
            print(fmt_row(parse_wrk(f.read())))
    elif cmd == "h2load":
        with open(argv[2]) as f:
            print(fmt_row(parse_h2load(f.read())))
    elif cmd == "report":
        report(argv[2], argv[3])
    else:
        print(f"unknown subcommand {cmd!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

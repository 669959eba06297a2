#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Turn bench/run-all.sh's raw results into bench/results/RESULTS.md and
the gnuplot scripts and data for echo-conns.png and proxy-conns.png.

Each raw line is PART, CELL, PEER, ROUND and key=value pairs (or
"failed ..."), tab-separated.  Every figure in a table is the median over
the rounds, with the min-max beside the main one; a peer's ratio is its
median over aio-echod's median from the same run, so the noise of a
shared machine hits both alike.
"""
import argparse
import os
import platform
import statistics
import subprocess
import time

AIO = "aio-echod"
ECHO_PEERS = ["aio-echod", "levecho", "asyncio", "uvloop"]
PROXY_PEERS = ["aio-echod", "haproxy", "nginx", "rinetd", "socat"]
PEER_NAMES = {
    "aio-echod": "aio-echod",
    "levecho": "libevent callback echo (bench/levecho.c)",
    "asyncio": "Python asyncio streams",
    "uvloop": "uvloop Protocol",
    "haproxy": "HAProxy (mode tcp)",
    "nginx": "nginx stream",
    "rinetd": "rinetd",
    "socat": "socat (fork)",
    "direct": "direct (no proxy)",
}


def parse(path):
    """The raw lines, grouped by (part, cell, peer).  A run whose system
    calls were counted while it ran (counted=1: redis, bulk) goes under
    part + ":counted", apart from the timed runs (counting slows it)."""
    runs = {}
    for line in open(path):
        part, cell, peer, rnd, rest = line.rstrip("\n").split("\t", 4)
        if rest.startswith("failed"):
            kv = {"failed": rest[7:].strip() or "failed"}
        else:
            kv = dict(w.split("=", 1) for w in rest.split() if "=" in w)
        if kv.get("counted") == "1":
            part += ":counted"
        runs.setdefault((part, cell, peer), []).append(kv)
    return runs


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def values(runs, key):
    return [v for v in (num(r.get(key)) for r in runs if "failed" not in r)
            if v is not None]


def med(runs, key):
    v = values(runs, key)
    return statistics.median(v) if v else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def spread(runs, key, digits=0):
    v = values(runs, key)
    if not v:
        return "-"
    return f"{fmt(min(v), digits)}-{fmt(max(v), digits)}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def failures(runs):
    n = sum(1 for r in runs if "failed" in r)
    return f" ({n} of {len(runs)} runs failed)" if n else ""


def per_run(runs, num_key, den_key, scale=1.0):
    """The median over the runs that worked of num_key / den_key * scale
    (e.g. the server's CPU seconds per request), or None."""
    v = [num(x[num_key]) / num(x[den_key]) * scale
         for x in runs if "failed" not in x
         and num(x.get(num_key)) is not None and num(x.get(den_key))]
    return statistics.median(v) if v else None


def counting_cost(runs):
    """A sentence on what the counters cost in this run: aio-echod's and
    levecho's CPU per echoed message while counted over the same run's
    timed figure (median over the echo runs), or nothing."""
    v = [num(x["count_cpu_us_per_msg"]) / num(x["cpu_us_per_msg"])
         for k, r in runs.items() if k[0] == "echo" and k[2] in (AIO, "levecho")
         for x in r if "failed" not in x and num(x.get("count_cpu_us_per_msg"))
         and num(x.get("cpu_us_per_msg"))]
    if not v:
        return ""
    return (f"In this run, echo servers spent {statistics.median(v):.2f}x their timed "
            "CPU per message while counted (median of the echo runs of aio-echod and "
            "levecho). ")


def cell_label(cell):
    size, conns = cell.split("x")
    size = "4 KiB" if size == "4096" else f"{size} B"
    return size, conns


def loadgen_table(runs, part, cells, peers):
    out = ["| msg | conns | peer | req/s (median) | min-max | ratio to aio-echod "
           "| p50 us | p99 us | p99.9 us | server CPU us/req | data calls/msg | all calls/msg |",
           "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for cell in cells:
        base = med(runs.get((part, cell, AIO), []), "rps")
        for peer in peers:
            r = runs.get((part, cell, peer))
            if not r:
                continue
            size, conns = cell_label(cell)
            rps = med(r, "rps")
            out.append("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                size, conns, peer, failures(r), fmt(rps), spread(r, "rps"),
                ratio(rps, base), fmt(med(r, "p50_us"), 1), fmt(med(r, "p99_us"), 1),
                fmt(med(r, "p999_us"), 1), fmt(med(r, "cpu_us_per_msg"), 2),
                fmt(med(r, "data_calls_per_msg"), 2), fmt(med(r, "all_calls_per_msg"), 2)))
    return out


def redis_table(runs):
    tests = ["PING_INLINE", "PING_MBULK", "SET", "GET"]
    peers = ["direct"] + PROXY_PEERS
    out = ["| path | " + " | ".join(f"{t} req/s (min-max)" for t in tests) +
           " | ratio to aio-echod (mean of tests) | server CPU us/req | data calls/req | all calls/req |",
           "| --- |" + " ---: |" * (len(tests) + 4)]
    base = runs.get(("redis", "c50", AIO), [])
    for peer in peers:
        r = runs.get(("redis", "c50", peer))
        if not r:
            continue
        cols, ratios = [], []
        for t in tests:
            m = med(r, t)
            cols.append(f"{fmt(m)} ({spread(r, t)})")
            b = med(base, t)
            if m and b:
                ratios.append(m / b)
        note = " (redis-server itself)" if peer == "direct" else ""
        out.append("| %s%s%s | %s | %s | %s | %s | %s |" % (
            peer, note, failures(r), " | ".join(cols),
            f"{statistics.mean(ratios):.2f}x" if ratios else "-",
            fmt(per_run(r, "srv_cpu_s", "reqs", 1e6), 2),
            fmt(per_run(runs.get(("redis:counted", "c50", peer), []), "data_calls", "reqs"), 2),
            fmt(per_run(runs.get(("redis:counted", "c50", peer), []), "all_calls", "reqs"), 2)))
    return out


BULK_CELLS = ["stream1", "stream8"]


def bulk_table(runs):
    """The bulk table: one block of rows per stream count."""
    out = ["| streams | path | Gbit/s (median) | min-max | ratio to aio-echod "
           "| server CPU s per GB | data calls per MB | all calls per MB |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for cell in BULK_CELLS:
        out += bulk_rows(runs, cell)
    return out


def bulk_rows(runs, cell):
    """The bulk rows of one cell (stream1, stream8): every path."""
    out = []
    base = med(runs.get(("bulk", cell, AIO), []), "gbps")
    for peer in ["direct"] + PROXY_PEERS:
        r = runs.get(("bulk", cell, peer))
        if not r:
            continue
        g = med(r, "gbps")
        out.append("| %s | %s%s | %s | %s | %s | %s | %s | %s |" % (
            cell[len("stream"):],
            peer + (" (iperf3 server itself)" if peer == "direct" else ""), failures(r),
            fmt(g, 2), spread(r, "gbps", 2), ratio(g, base),
            fmt(per_run(r, "srv_cpu_s", "bytes", 1e9), 2),
            fmt(per_run(runs.get(("bulk:counted", cell, peer), []), "data_calls", "bytes", 1e6), 1),
            fmt(per_run(runs.get(("bulk:counted", cell, peer), []), "all_calls", "bytes", 1e6), 1)))
    return out


def connrate_cell(runs):
    """The connrate part's cell ("t2": connrate's threads), or None."""
    return next((k[1] for k in runs if k[0] == "connrate"), None)


def connrate_table(runs):
    """New connections per second, straight to levecho and through each
    proxy, with the server's CPU and system calls per connection."""
    cell = connrate_cell(runs)
    out = ["| path | new conns/s (median) | min-max | ratio to aio-echod | p50 us | p99 us "
           "| server CPU us/conn | data calls/conn | all calls/conn |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    base = med(runs.get(("connrate", cell, AIO), []), "cps")
    for peer in ["direct"] + PROXY_PEERS:
        r = runs.get(("connrate", cell, peer))
        if not r:
            continue
        c = med(r, "cps")
        out.append("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            peer + (" (levecho itself)" if peer == "direct" else ""), failures(r),
            fmt(c), spread(r, "cps"), ratio(c, base), fmt(med(r, "p50_us")),
            fmt(med(r, "p99_us")), fmt(med(r, "cpu_us_per_conn"), 1),
            fmt(med(r, "data_calls_per_conn"), 1), fmt(med(r, "all_calls_per_conn"), 1)))
    return out


def idle_rows(runs, part, peers):
    rows = {}
    for peer in peers:
        r = runs.get(("idle", part, peer))
        if not r:
            continue
        x = r[0]
        if "failed" in x:
            rows[peer] = None
            continue
        n = num(x["conns"])
        rows[peer] = ((num(x["rss1_kb"]) - num(x["rss0_kb"])) * 1024 / n,
                      (num(x["pss1_kb"]) - num(x["pss0_kb"])) * 1024 / n,
                      int(n), x.get("nproc1"), num(x["rss0_kb"]))
    return rows


def idle_table(runs):
    out = ["| kind | peer | conns | VmRSS growth, bytes/conn | ratio to aio-echod | Pss growth, bytes/conn | RSS before, KiB | processes |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for part, peers in (("echo", ECHO_PEERS), ("proxy", PROXY_PEERS)):
        rows = idle_rows(runs, part, peers)
        base = rows.get(AIO)
        for peer, v in rows.items():
            if v is None:
                out.append(f"| {part} | {peer} | - | failed: {runs[('idle', part, peer)][0]['failed'][:80]} | - | - | - | - |")
                continue
            out.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                part, peer, v[2], fmt(v[0]), ratio(v[0], base[0] if base else None),
                fmt(v[1]), fmt(v[4]), v[3]))
    return out


# The proxies aio-echod's proxy is held against (socat is no contender).
PROXY_RIVALS = ["rinetd", "haproxy", "nginx"]
REDIS_TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET"]


def best_of(runs, part, cell, peers, key, pick=max):
    """(value, peer) of the peer whose median of key is best by pick
    (max for rates, min for costs) in one cell, or (None, None)."""
    v = [(med(runs.get((part, cell, p), []), key), p) for p in peers]
    v = [x for x in v if x[0]]
    return pick(v) if v else (None, None)


def row(out, name, measured, ok):
    """One line of the targets table."""
    out.append(f"| {name} | {measured} | {'met' if ok else 'missed'} |")


def echo_targets(runs, out):
    """Echo at 1, 100 and 1,000 connections, 64 B and 4 KiB: req/s at
    least levecho's, CPU per request at most 1.03x levecho's."""
    for cell in ["64x1", "64x100", "64x1000", "4096x1", "4096x100", "4096x1000"]:
        a = runs.get(("echo", cell, AIO), [])
        lev = runs.get(("echo", cell, "levecho"), [])
        size, conns = cell_label(cell)
        ra, rl = med(a, "rps"), med(lev, "rps")
        if ra and rl:
            row(out, f"echo {size} x {conns}: req/s >= 1.0x levecho", f"{ra / rl:.2f}x", ra >= rl)
        ca, cl = med(a, "cpu_us_per_msg"), med(lev, "cpu_us_per_msg")
        if ca and cl:
            row(out, f"echo {size} x {conns}: CPU/req <= 1.03x levecho",
                f"{ca / cl:.2f}x ({ca:.2f} vs {cl:.2f} us)", ca <= 1.03 * cl)


def proxy_targets(runs, out):
    """Proxy at 100 and 1,000 connections: req/s at least the best of
    rinetd, HAProxy and nginx; CPU per request at most the lowest of
    theirs."""
    for cell in ["64x100", "64x1000"]:
        a = runs.get(("proxy", cell, AIO), [])
        conns = cell_label(cell)[1]
        ra, ca = med(a, "rps"), med(a, "cpu_us_per_msg")
        best, bp = best_of(runs, "proxy", cell, PROXY_RIVALS, "rps")
        if ra and best:
            row(out, f"proxy 64 B x {conns}: req/s >= 1.0x best of rinetd/HAProxy/nginx ({bp})",
                f"{ra / best:.2f}x", ra >= best)
        low, lp = best_of(runs, "proxy", cell, PROXY_RIVALS, "cpu_us_per_msg", min)
        if ca and low:
            row(out, f"proxy 64 B x {conns}: CPU/req <= lowest of rinetd/HAProxy/nginx ({lp})",
                f"{ca / low:.2f}x ({ca:.2f} vs {low:.2f} us)", ca <= low)


def redis_targets(runs, out):
    """Redis through the proxy: each test at least the best peer's."""
    for t in REDIS_TESTS:
        a = med(runs.get(("redis", "c50", AIO), []), t)
        best, bp = best_of(runs, "redis", "c50", PROXY_PEERS[1:], t)
        if a and best:
            row(out, f"redis {t} through the proxy >= 1.0x best peer ({bp})",
                f"{a / best:.2f}x", a >= best)


def bulk_targets(runs, out):
    """Bulk with 1 and 8 streams: at least the best peer; and the
    moonshot, 1.3x HAProxy with both."""
    moon = []
    for cell in BULK_CELLS:
        n = cell[len("stream"):]
        a = med(runs.get(("bulk", cell, AIO), []), "gbps")
        best, bp = best_of(runs, "bulk", cell, PROXY_PEERS[1:], "gbps")
        if a and best:
            row(out, f"bulk, {n} stream{'s' if n != '1' else ''}: >= 1.0x best peer ({bp})",
                f"{a / best:.2f}x", a >= best)
        h = med(runs.get(("bulk", cell, "haproxy"), []), "gbps")
        if a and h:
            moon.append((n, a / h))
    if moon:
        row(out, "bulk, 1 and 8 streams: >= 1.3x HAProxy (moonshot)",
            ", ".join(f"{x:.2f}x ({n})" for n, x in moon),
            len(moon) == len(BULK_CELLS) and all(x >= 1.3 for n, x in moon))


def idle_targets(runs, out):
    """Idle memory per connection: 1,024 bytes echoed, 2,048 proxied."""
    for part, limit in (("echo", 1024), ("proxy", 2048)):
        v = idle_rows(runs, part, [AIO]).get(AIO)
        if v:
            row(out, f"idle memory per {part} connection <= {limit:,} bytes",
                f"{v[0]:,.0f} bytes", v[0] <= limit)


def calls_targets(runs, out):
    """The counted calls: 2 data calls per echoed message, 4 per proxied
    one, in every cell (within tests/fairness.bats's margins: 2.05 and
    4.1; a window's edges can leave a count a little under)."""
    for part, want, ceil, what in (("echo", 2, 2.05, "echoed"), ("proxy", 4, 4.1, "proxied")):
        v = [(med(r, "data_calls_per_msg"), k[1]) for k, r in sorted(runs.items())
             if k[0] == part and k[2] == AIO]
        v = [x for x in v if x[0] is not None]
        if not v:
            continue
        lo, hi = min(v), max(v)
        row(out, f"{want} data calls per {what} message (every cell)",
            f"{lo[0]:.2f} ({' x '.join(cell_label(lo[1]))}) to "
            f"{hi[0]:.2f} ({' x '.join(cell_label(hi[1]))})",
            hi[0] <= ceil and lo[0] >= want - (ceil - want))


def targets(runs):
    """The project's targets, checked against this run's medians; a
    target whose part did not run has no row."""
    out = ["| target | measured | met? |", "| --- | --- | --- |"]
    for check in (echo_targets, proxy_targets, redis_targets, bulk_targets,
                  idle_targets, calls_targets):
        check(runs, out)
    return out


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1048576:.0f} GiB"
    return f"{os.cpu_count()} CPUs ({cpu}), {mem}, Linux {platform.release()}"


CONN_CELLS = ["64x1", "64x10", "64x100", "64x1000"]


def chart_data(runs, path, part, peers, keys, what):
    """A gnuplot data file: a line per connection count (64 B), then the
    median of each key (in turn) for each peer."""
    with open(path, "w") as f:
        f.write("# conns " + " ".join(f"{p}:{k}" for k in keys for p in peers) +
                f" (median {what}, 64 B)\n")
        for cell in CONN_CELLS:
            line = [cell.split("x")[1]]
            for k in keys:
                for p in peers:
                    m = med(runs.get((part, cell, p), []), k)
                    line.append(("NaN" if not m else f"{m:.0f}" if k == "rps" else f"{m:.3f}"))
            f.write(" ".join(line) + "\n")


def plot_cmd(dat, peers, first_col):
    """gnuplot's plot arguments: one line per peer, from column
    first_col on."""
    return ", ".join(
        f"'{dat}' using 1:{first_col + i} with linespoints lw 2 pt 7 title '{PEER_NAMES[p]}'"
        for i, p in enumerate(peers))


# What both charts share: connections on a log x axis, from 1 to 1,000.
CHART_AXES = """set xlabel 'connections'
set logscale x
set xtics (1, 10, 100, 1000)
set xrange [0.7:1500]
set grid
"""


def chart(runs, outdir):
    """echo-conns.gp and .dat: echo req/s against connections."""
    dat = os.path.join(outdir, "echo-conns.dat")
    chart_data(runs, dat, "echo", ECHO_PEERS, ["rps"], "req/s")
    with open(os.path.join(outdir, "echo-conns.gp"), "w") as f:
        f.write(f"""set terminal pngcairo size 900,600 font 'sans,11'
set output '{outdir}/echo-conns.png'
set title 'Echo, 64-byte ping-pong: requests per second (median of rounds)'
{CHART_AXES}set ylabel 'requests per second'
set yrange [0:*]
set format y '%.0s%c'
set key below
plot {plot_cmd(dat, ECHO_PEERS, 2)}
""")


def proxy_chart(runs, outdir):
    """proxy-conns.gp and .dat: each proxy's req/s (top) and CPU per
    request (bottom, log scale: socat's is ten times the others')
    against connections."""
    dat = os.path.join(outdir, "proxy-conns.dat")
    n = len(PROXY_PEERS)
    chart_data(runs, dat, "proxy", PROXY_PEERS, ["rps", "cpu_us_per_msg"],
               "req/s, then server CPU us/req")
    with open(os.path.join(outdir, "proxy-conns.gp"), "w") as f:
        f.write(f"""set terminal pngcairo size 900,1000 font 'sans,11'
set output '{outdir}/proxy-conns.png'
set multiplot layout 2,1 title 'Proxy in front of levecho, 64-byte ping-pong (median of rounds)'
{CHART_AXES}set title 'requests per second'
set ylabel 'requests per second'
set yrange [0:*]
set format y '%.0s%c'
unset key
plot {plot_cmd(dat, PROXY_PEERS, 2)}
set title 'proxy CPU per request'
set ylabel 'CPU us per request (log scale)'
set logscale y
set yrange [*:*]
set format y '%g'
set key below
plot {plot_cmd(dat, PROXY_PEERS, 2 + n)}
unset multiplot
""")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--switch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--elapsed", required=True)
    ap.add_argument("--settings", required=True)
    ap.add_argument("--versions", required=True)
    a = ap.parse_args()
    runs = parse(a.raw)
    echo_cells = ["64x1", "64x10", "64x100", "64x1000", "4096x1", "4096x100", "4096x1000"]
    rounds = max((len(v) for k, v in runs.items() if k[0] in ("echo", "proxy")), default=0)
    md = [
        "# aio-echod benchmark results",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {machine()}; shared and noisy, so only ratios within one run mean much",
        f"- Command: `{a.cmd}` (run time {int(a.elapsed) // 60} min {int(a.elapsed) % 60} s)",
        f"- Settings: {a.settings}",
        f"- Peers: {a.versions}",
        "",
        f"Every figure is the median of {rounds} interleaved rounds (each round runs every "
        "peer once, starting one peer later each round); min-max is the spread over the rounds. "
        "Servers and proxies run on CPU 0; the load generator (bench/loadgen, one thread), "
        "the proxies' upstream, redis-server and iperf3 run on CPU 1. "
        "Each run starts once CPU 0 has been under 10 % busy for 0.2 s (what the run "
        "before left behind, such as socat's forked children exiting, is not billed to "
        "the next peer). "
        "Latency is from queueing a message to its last echoed byte. Ratios are to aio-echod's "
        "median in the same run.",
        "",
        "Server CPU is utime+stime of the server and its descendants (/proc/PID/stat; "
        "cutime+cstime for children that exited), over loadgen's or connrate's measured "
        "seconds (`-p`), or from before to after a redis-benchmark or iperf3 run, divided by "
        "the requests (bytes, connections).",
        "",
        "System calls are counted by perf tracepoint counters (perf_event_open(2); "
        "bench/srvstat.c) on every thread of the server and its descendants, inherited by "
        "the threads and processes they create meanwhile (socat forks one per connection): "
        "**data calls** are read, write, readv, writev, recvfrom, sendto, recvmsg and sendmsg "
        "(glibc's recv and send are recvfrom and sendto), whether they moved bytes or not; "
        "**all calls** are every system call (raw_syscalls:sys_enter), epoll_wait, accept "
        "and close included. Counting is not free (on this 2-vCPU machine, where a system "
        "call takes 1 to 1.5 us: about 0.1 us more for every call on the machine while any "
        "counter exists, and 0.1 to 0.2 us more for each counted call), so no counter "
        "exists while timing: loadgen and connrate count in the same run, right after the "
        "measured seconds (`-C`). loadgen lets every message in flight come back, opens and "
        "enables the counters, sends for COUNT_SECS seconds, stops, and reads the counters "
        "once every message sent since is back, so the count per message is exact; "
        "connrate likewise stops its threads, counts the connections begun in COUNT_SECS "
        "seconds, and reads the counters once the last one is done. redis-benchmark and "
        "iperf3 get one extra round, each run inside `bench/loadgen -W` (from the client's "
        "start to its exit, connection set-up included), whose runs give the calls and "
        "nothing else. "
        + counting_cost(runs) +
        "Most of socat's data calls are recvfrom(MSG_DONTWAIT) on an internal socketpair "
        "that find nothing (strace).",
        "",
    ]
    if any(k[0] == "echo" for k in runs):
        md += ["## Echo", "", "Ping-pong (one message in flight per connection).", ""]
        md += loadgen_table(runs, "echo", echo_cells, ECHO_PEERS)
        md += ["", "![echo req/s against connections](echo-conns.png)", ""]
        chart(runs, a.out)
    if any(k[0] == "proxy" for k in runs):
        md += ["## Proxy", "", "Each proxy in front of the same upstream (bench/levecho on CPU 1); "
               "64-byte ping-pong. CPU and system calls are the proxy's alone.", ""]
        md += loadgen_table(runs, "proxy", CONN_CELLS, PROXY_PEERS)
        md += ["", "![proxy req/s and CPU per request against connections](proxy-conns.png)", ""]
        proxy_chart(runs, a.out)
    if any(k[0] == "redis" for k in runs):
        md += ["## Redis through each proxy", "",
               "`redis-benchmark -t ping,set,get -P 1 -c 50 -n N` against redis-server, "
               "straight and through each proxy.", ""]
        md += redis_table(runs)
        md += [""]
    if any(k[0] == "bulk" for k in runs):
        md += ["## Bulk (iperf3) through each proxy", "",
               "iperf3 TCP, client to server, with 1 and with 8 parallel streams (`-P`), "
               "straight and through each proxy. "
               "iperf3's client and server share CPU 1, so the straight line is the ceiling.", ""]
        md += bulk_table(runs)
        md += [""]
    if any(k[0] == "connrate" for k in runs):
        md += ["## New connections through each proxy", "",
               f"`bench/connrate -t {connrate_cell(runs)[1:]}` (its threads on CPU 1, beside the "
               "levecho upstream): each thread connects, sends one byte, waits for its echo and "
               "closes with a reset (SO_LINGER 0), over and over; the proxy (CPU 0) accepts, "
               "connects to levecho and relays the byte both ways. Latency is from before "
               "connect() to the echo. CPU and system calls are the proxy's, per counted "
               "connection.", ""]
        md += connrate_table(runs)
        md += [""]
    if any(k[0] == "idle" for k in runs):
        md += ["## Idle memory per connection", "",
               "Connections opened, one 64-byte message echoed on each, then held; growth of "
               "the server's VmRSS (summed over its processes) divided by the connections. "
               "Pss counts pages shared between processes once, which matters for socat's "
               "process per connection. Kernel socket buffers are not in either.", ""]
        md += idle_table(runs)
        md += [""]
    sw = open(a.switch).read().strip()
    if sw:
        md += ["## Coroutine switch (bench/run.sh)", "", "```", sw, "```", ""]
    md += ["## Targets", "", "Checked against the medians above; a ratio is aio-echod's "
           "figure over the named peer's.", ""]
    md += targets(runs)
    md += [""]
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()

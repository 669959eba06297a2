#!/usr/bin/env python3
"""The helpers of bench/metrics.sh (what the metrics service costs).

    metrics_tool.py COMMAND ARGS...

  ports N               print N loopback TCP ports that were free a moment
                        ago, all different (held together while chosen)
  scrape-loop ADDR S    GET /metrics from ADDR (HOST:PORT) every S seconds
                        on one HTTP/1.1 keep-alive connection, as
                        Prometheus does, until SIGTERM; then print
                        "scrapes=N failed=M bytes=LAST"
  paired [--b-first] LOADGEN CONNS SIZE WARMUP SECS PID:PORT PID:PORT
                        the paired CPU measure: both servers run at the
                        same time (both on CPU 0, the caller pins them),
                        each under its own loadgen (ping-pong, pinned to
                        CPU 1), started together with the same warm-up and
                        measured seconds, each with -p PID, so each
                        server's utime+stime (/proc/PID/stat) is taken
                        over the same interval, give or take the few ms
                        between the two loadgens' starts.  Prints
                        "a_rps=.. a_cpu_us=.. b_rps=.. b_cpu_us=..
                        cpu_ratio=B/A rps_ratio=B/A errors=N"
  hold N ADDR...        open N connections spread in turn over the ADDRs
                        (HOST:PORT), send one byte on each and wait for
                        its echo, print "ready conns=N errors=E", then
                        hold them idle until SIGTERM
  probe ADDR SECS [K]   1-byte ping-pong on K connections (default 1) to
                        ADDR, one at a time in turn, for SECS seconds or
                        until SIGTERM; print "n=.. p50_us=.. p99_us=..
                        p999_us=.. max_us=.. over_1ms=N over_2ms=N" (N:
                        the round trips longer than that)
  lag BEFORE AFTER      from two scrapes saved to files, the loop lag
                        histogram's growth in between, per thread:
                        "thread=T samples=N over_5ms=K max_le=B mean_us=M"
                        (max_le: the bound of the highest bucket that
                        grew, in seconds; +Inf past the last)
  sample FILE NAME      print the value of the sample NAME (the whole
                        "name{labels}" text as it appears) in a saved scrape
  report RAW OUT ...    turn the raw results into bench/results/METRICS.md
                        (see report() for its arguments)

Exit status 0, or 1 with the reason on stderr.
"""
import argparse
import datetime
import http.client
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def cmd_ports(args):
    socks = []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def cmd_scrape_loop(args):
    host, port = split_addr(args.addr)
    scrapes = failed = size = 0
    conn = None
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            t = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or not body.startswith(b"# HELP"):
                    raise OSError("status %d" % r.status)
                scrapes += 1
                size = len(body)
            except (OSError, http.client.HTTPException):
                failed += 1
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(max(0.0, args.every - (time.monotonic() - t)))
    except (Stop, KeyboardInterrupt):
        pass
    print("scrapes=%d failed=%d bytes=%d" % (scrapes, failed, size),
          flush=True)


def parse_kv(line):
    kv = {}
    for w in line.split():
        if "=" in w:
            k, v = w.split("=", 1)
            kv[k] = v
    return kv


def cmd_paired(args):
    procs = []
    sides = (args.b, args.a) if args.b_first else (args.a, args.b)
    for side in sides:
        pid, port = side.split(":")
        procs.append(subprocess.Popen(
            ["taskset", "-c", "1", args.loadgen, "-a", "127.0.0.1:" + port,
             "-c", str(args.conns), "-s", str(args.size),
             "-w", str(args.warmup), "-D", str(args.secs), "-p", pid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    res = []
    errors = 0
    for p in procs:
        out, err = p.communicate(timeout=60 + args.warmup + args.secs)
        kv = parse_kv(out)
        if p.returncode != 0 or "rps" not in kv:
            sys.stderr.write("paired: loadgen: %s %s\n" % (out.strip(),
                                                            err.strip()))
            errors += 1
            kv = {"rps": "0", "cpu_us_per_msg": "0", "errors": "1"}
        errors += int(kv.get("errors", "0"))
        res.append(kv)
    a, b = res[::-1] if args.b_first else res
    ac, bc = float(a["cpu_us_per_msg"]), float(b["cpu_us_per_msg"])
    ar, br = float(a["rps"]), float(b["rps"])
    print("a_rps=%.0f a_cpu_us=%.4f b_rps=%.0f b_cpu_us=%.4f "
          "cpu_ratio=%.4f rps_ratio=%.4f errors=%d" % (
              ar, ac, br, bc, bc / ac if ac else 0, br / ar if ar else 0,
              errors))
    return 1 if errors else 0


def cmd_hold(args):
    addrs = [split_addr(a) for a in args.addrs]
    socks = []
    errors = 0
    sel = selectors.DefaultSelector()
    for i in range(args.n):
        s = socket.create_connection(addrs[i % len(addrs)], timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"x")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    waiting = len(socks)
    deadline = time.monotonic() + 60
    while waiting > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            try:
                ok = s.recv(16) == b"x"
            except OSError:
                ok = False
            errors += 0 if ok else 1
            sel.unregister(s)
            waiting -= 1
    errors += waiting
    print("ready conns=%d errors=%d" % (len(socks), errors), flush=True)
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            time.sleep(3600)
    except (Stop, KeyboardInterrupt):
        pass
    return 0


def percentile(sorted_v, p):
    if not sorted_v:
        return 0.0
    i = min(len(sorted_v) - 1, int(p * len(sorted_v)))
    return sorted_v[i]


def cmd_probe(args):
    host, port = split_addr(args.addr)
    socks = []
    for _ in range(args.k):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    lat = []
    signal.signal(signal.SIGTERM, on_term)
    end = time.monotonic() + args.secs
    i = 0
    try:
        while True:
            s = socks[i % len(socks)]
            i += 1
            t0 = time.perf_counter_ns()
            s.sendall(b"p")
            if s.recv(1) != b"p":
                sys.stderr.write("probe: bad echo\n")
                return 1
            t1 = time.perf_counter_ns()
            lat.append(t1 - t0)
            if (i & 255) == 0 and time.monotonic() > end:
                break
    except (Stop, KeyboardInterrupt):
        pass
    lat.sort()
    print("n=%d p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
          "over_1ms=%d over_2ms=%d" % (
              len(lat), percentile(lat, 0.5) / 1e3,
              percentile(lat, 0.99) / 1e3, percentile(lat, 0.999) / 1e3,
              (lat[-1] if lat else 0) / 1e3,
              sum(1 for x in lat if x > 1000000),
              sum(1 for x in lat if x > 2000000)), flush=True)
    return 0


def samples(path):
    """The samples of a saved scrape: {"name{labels}": float}."""
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rstrip("\n").rpartition(" ")
        if k:
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def lag_hist(path):
    """{thread: {"le": {bound: cumulative}, "count": n, "sum": s}}."""
    h = {}
    for k, v in samples(path).items():
        if not k.startswith("aio_echod_loop_lag_seconds"):
            continue
        name, _, labels = k.partition("{")
        lab = dict(p.split("=", 1) for p in labels.rstrip("}").split(",")
                   if "=" in p)
        t = lab.get("thread", '""').strip('"')
        e = h.setdefault(t, {"le": {}, "count": 0, "sum": 0})
        if name.endswith("_bucket"):
            le = lab["le"].strip('"')
            e["le"][float("inf") if le == "+Inf" else float(le)] = v
        elif name.endswith("_count"):
            e["count"] = v
        elif name.endswith("_sum"):
            e["sum"] = v
    return h


def cmd_lag(args):
    before, after = lag_hist(args.before), lag_hist(args.after)
    for t in sorted(after, key=lambda x: int(x) if x.isdigit() else 0):
        a, b = after[t], before.get(t, {"le": {}, "count": 0, "sum": 0})
        n = a["count"] - b["count"]
        bounds = sorted(a["le"])
        grew = [x for x in bounds if a["le"][x] - b["le"].get(x, 0) > 0]
        # Cumulative: the first bound that holds every new sample.
        top = min((x for x in bounds
                   if a["le"][x] - b["le"].get(x, 0) >= n), default=None)
        over5 = n - (a["le"].get(0.005, 0) - b["le"].get(0.005, 0))
        mean = (a["sum"] - b["sum"]) / n * 1e6 if n else 0
        print("thread=%s samples=%d over_5ms=%d max_le=%s mean_us=%.0f" % (
            t, n, over5, "none" if not grew else
            ("+Inf" if top == float("inf") else "%g" % top), mean))
    return 0


def cmd_sample(args):
    v = samples(args.file).get(args.name)
    if v is None:
        sys.stderr.write("sample: no %s\n" % args.name)
        return 1
    print("%.0f" % v if v == int(v) else v)
    return 0


# --- the report ----------------------------------------------------------

def quart(v):
    """median, first and third quartiles, min, max."""
    v = sorted(v)
    if len(v) == 1:
        return v[0], v[0], v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[1], q[0], q[2], v[0], v[-1]


def fmt_q(v, d=3, comma=False):
    m, q1, q3, lo, hi = quart(v)
    f = ("{:,.%df}" if comma else "{:.%df}") % d
    return "%s (%s-%s; %s-%s)" % (f.format(m), f.format(q1), f.format(q3),
                                  f.format(lo), f.format(hi))


def read_raw(path):
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 5:
            rows.append((f[0], f[1], f[2], f[3], parse_kv(f[4]), f[4]))
    return rows


NAMES = {
    "base": "base (before the metrics work)",
    "plain": "this build, no metrics listener",
    "scraped": "this build, metrics listener scraped every %s s",
}


def report(args):
    rows = read_raw(args.raw)
    o = []
    w = o.append
    w("# The metrics service: what counting and scraping cost\n")
    w("`bench/metrics.sh`, %s, on %s (%s, %d CPUs; %s).  Base: `%s` (the "
      "commit before the metrics work); this build: `%s`.  Both "
      "RelWithDebInfo, built by the script.  Total run: %s s.\n" % (
          datetime.date.today(), platform.node() or "?",
          platform.machine(), os.cpu_count(), platform.release(),
          args.base_rev, args.this_rev, args.elapsed))
    w("Command: `%s`\n" % args.cmd)
    w("Settings: %s\n" % args.settings)
    w("""Method.  Every daemon runs with `loop_threads = 1`, pinned to CPU 0;
load generators, the proxies' upstream (`bench/levecho`) and the scraper run
on CPU 1.  The three daemons of a part (base, plain, scraped) run side by
side for the whole part.  Each round:

- **req/s**: each daemon alone under `bench/loadgen` (100 connections,
  64 B ping-pong), in an order that rotates each round; the ratio is
  taken within the round (B/A from the same round), and the table gives
  the median of those paired ratios with the quartiles and the range.
- **CPU per message, paired**: the two daemons compared run *at the same
  time* on CPU 0, each under its own loadgen on CPU 1 (`metrics_tool.py
  paired`); each loadgen reads its daemon's utime+stime from
  `/proc/PID/stat` at the start and end of the same measured seconds, so
  whatever else the machine does hits both alike; the ratio B/A of their
  CPU microseconds per echoed message is taken per round, and the median
  over the rounds is reported.  The first started of the two alternates.
- The scraper (`metrics_tool.py scrape-loop`, HTTP/1.1 keep-alive, as
  Prometheus) scrapes the scraped daemon every %s s throughout the part,
  whichever daemon is being measured; its own CPU is on CPU 1 and not
  counted, the daemon's work for each scrape is.

Figures: median (first quartile-third quartile; min-max) over the rounds.
""" % args.scrape_every)

    targets = []
    for service in ("echo", "proxy"):
        rps = [r for r in rows if r[0] == "rps" and r[1] == service]
        cpu = [r for r in rows if r[0] == "cpu" and r[1] == service]
        if not rps and not cpu:
            continue
        rounds = sorted({int(r[2]) for r in rps} | {int(r[2]) for r in cpu})
        by = {}
        for r in rps:
            by.setdefault(r[3], {})[int(r[2])] = r[4]
        w("\n## %s\n" % ("Echo: 100 connections, 64 B ping-pong"
                          if service == "echo" else
                          "Proxy: 100 connections, 64 B ping-pong, through "
                          "the daemon to bench/levecho on CPU 1"))
        w("%d rounds.  Each daemon alone:\n" % len(rounds))
        w("| daemon | req/s | server CPU us/msg (alone) |")
        w("| --- | --- | --- |")
        for peer in ("base", "plain", "scraped"):
            if peer not in by:
                continue
            v = list(by[peer].values())
            w("| %s | %s | %s |" % (
                NAMES[peer] % args.scrape_every if peer == "scraped"
                else NAMES[peer],
                fmt_q([float(x["rps"]) for x in v], 0, True),
                fmt_q([float(x["cpu_us_per_msg"]) for x in v], 3)))
        w("")
        w("| comparison (B over A) | part | req/s ratio, paired | rounds | "
          "CPU/msg ratio, paired concurrent | rounds | target |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for part, a, b in (("A", "plain", "scraped"), ("B", "base", "plain")):
            if a not in by or b not in by:
                continue
            rr = [float(by[b][k]["rps"]) / float(by[a][k]["rps"])
                  for k in by[a] if k in by[b] and float(by[a][k]["rps"]) > 0]
            cr = [float(r[4]["cpu_ratio"]) for r in cpu
                  if r[3] == "%s:%s" % (a, b) and float(r[4]["cpu_ratio"]) > 0]
            mr = statistics.median(rr) if rr else 0
            mc = statistics.median(cr) if cr else 0
            ok = mr >= 0.99 and mc <= 1.01
            targets.append((part, service, mr, mc, ok))
            w("| %s over %s | %s | %s | %d | %s | %d | req/s >= 0.99, CPU "
              "<= 1.01: **%s** |" % (b, a, part, fmt_q(rr, 4), len(rr),
                                     fmt_q(cr, 4) if cr else "-", len(cr),
                                     "met" if ok else "NOT met"))
        w("")

    crows = [r for r in rows if r[0] == "scrape"]
    ctargets = []
    if crows:
        cfg = parse_kv(args.c_setup)
        w("\n## C. Scrape cost\n")
        w("One daemon pinned to CPU 0 with %s echo and %s proxy listeners "
          "(each proxy with 2 upstreams, two bench/levecho on CPU 1: %s "
          "upstream series) and the metrics listener; %s idle client "
          "connections, spread evenly over the echo and proxy listeners, "
          "each having had one byte echoed (so every proxied one has its "
          "upstream connection).  On CPU 1: "
          "the holder of the connections, the scrapes (`curl`, a new "
          "connection each, back to back) and the probe (`metrics_tool.py "
          "probe`: 1-byte ping-pong against the first echo listener, "
          "SCHED_FIFO so that curl on the same CPU does not delay it).  "
          "Phases of %s s without and with back-to-back scrapes "
          "alternate, %s rounds.  The loop lag is "
          "`aio_echod_loop_lag_seconds` from a scrape before and after "
          "the scraping phases (its buckets start at 5 ms).\n" % (
              cfg.get("echo"), cfg.get("proxy"), cfg.get("upstreams"),
              cfg.get("conns"), cfg.get("secs"),
              cfg.get("rounds")))
        for t in sorted({r[1] for r in crows}):
            tr = [r for r in crows if r[1] == t]
            w("\n### loop_threads = %s\n" % t)
            info = [r for r in tr if r[3] == "info"]
            for r in info:
                w("Set-up: %s\n" % r[5])
            sc = [r[4] for r in tr if r[3] == "scrapes"]
            times = []
            sizes = []
            for kv in sc:
                times += [float(x) * 1e3 for x in kv["times"].split(",")
                          if x]
                sizes += [int(x) for x in kv["sizes"].split(",") if x]
            if times:
                st = sorted(times)
                ctargets.append((t, "wall", st[-1], max(sizes)))
                first20 = times[:20]
                w("| scrape | value | target |")
                w("| --- | --- | --- |")
                w("| scrapes timed | %d | |" % len(times))
                w("| wall time, first 20: median / max | %.2f / %.2f ms | "
                  "< 20 ms: **%s** |" % (
                      statistics.median(first20), max(first20),
                      "met" if max(first20) < 20 else "NOT met"))
                w("| wall time, all: median / p99 / max | %.2f / %.2f / "
                  "%.2f ms | < 20 ms: **%s** |" % (
                      statistics.median(st), percentile(st, 0.99), st[-1],
                      "met" if st[-1] < 20 else "NOT met"))
                w("| response size | %s bytes (%.1f KiB) | < 1 MiB: **%s** |"
                  % ("-".join("{:,}".format(x) for x in
                              sorted({min(sizes), max(sizes)})),
                     max(sizes) / 1024,
                     "met" if max(sizes) < 1 << 20 else "NOT met"))
                for r in tr:
                    if r[3] == "memory":
                        kv = r[4]
                        w("| daemon memory: RSS before / after the scrapes; "
                          "peak (VmHWM) before / after | %s / %s KiB; %s / "
                          "%s KiB | |" % (kv["rss0"], kv["rss1"],
                                          kv["hwm0"], kv["hwm1"]))
                w("")
            pr = [r for r in tr if r[3] in ("probe-idle", "probe-scrape")]
            if pr:
                w("Probe round trips (us), per phase:\n")
                w("| phase | round | samples | p50 | p99 | p99.9 | max | "
                  "over 1 ms | over 2 ms |")
                w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
                for r in sorted(pr, key=lambda x: (x[3], int(x[2]))):
                    kv = r[4]
                    w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        "without scrapes" if r[3] == "probe-idle"
                        else "back-to-back scrapes", r[2], kv.get("n"),
                        kv.get("p50_us"), kv.get("p99_us"),
                        kv.get("p999_us"), kv.get("max_us"),
                        kv.get("over_1ms", "-"), kv.get("over_2ms", "-")))
                idle = [float(r[4]["max_us"]) for r in pr
                        if r[3] == "probe-idle"]
                busy = [float(r[4]["max_us"]) for r in pr
                        if r[3] == "probe-scrape"]
                i99 = [float(r[4]["p99_us"]) for r in pr
                       if r[3] == "probe-idle"]
                b99 = [float(r[4]["p99_us"]) for r in pr
                       if r[3] == "probe-scrape"]
                if idle and busy:
                    ctargets.append((t, max(busy) - max(idle)))
                    w("\nMax round trip: %.0f us without scrapes, %.0f us "
                      "with them (largest over the rounds): the loop is held "
                      "at most about %.2f ms longer by a scrape (target: "
                      "1 ms: **%s**).  p99: %.0f us without, %.0f us with "
                      "(medians over the rounds).\n" % (
                          max(idle), max(busy),
                          max(0, max(busy) - max(idle)) / 1e3,
                          "met" if max(busy) - max(idle) <= 1000 else
                          "NOT met", statistics.median(i99),
                          statistics.median(b99)))
            for r in tr:
                if r[3] == "lag":
                    w("Loop lag over the scraping phases: `%s`\n" % r[5])
    w("\n## Targets\n")
    w("| part | service | req/s ratio | CPU/msg ratio | target met |")
    w("| --- | --- | --- | --- | --- |")
    for part, service, mr, mc, ok in targets:
        w("| %s | %s | %.4f | %.4f | %s |" % (part, service, mr, mc,
                                              "yes" if ok else "**no**"))
    if ctargets:
        w("")
        w("| C: loop_threads | target | measured | met |")
        w("| --- | --- | --- | --- |")
        for c in ctargets:
            if len(c) == 4:
                w("| %s | scrape wall time < 20 ms | max %.2f ms | %s |" % (
                    c[0], c[2], "yes" if c[2] < 20 else "**no**"))
                w("| %s | response < 1 MiB | %d bytes | %s |" % (
                    c[0], c[3], "yes" if c[3] < 1 << 20 else "**no**"))
            else:
                w("| %s | loop held <= 1 ms (probe max, with scrapes "
                  "minus without) | %+.2f ms | %s |" % (
                      c[0], c[1] / 1e3, "yes" if c[1] <= 1000 else "**no**"))
    w("\n<details><summary>Raw results (bench/metrics.sh's lines)</summary>"
      "\n\n```")
    for line in open(args.raw):
        w(line.rstrip("\n"))
    w("```\n</details>")
    with open(args.out, "w") as f:
        f.write("\n".join(o) + "\n")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    p.set_defaults(fn=cmd_ports)
    p = sub.add_parser("scrape-loop")
    p.add_argument("addr")
    p.add_argument("every", type=float)
    p.set_defaults(fn=cmd_scrape_loop)
    p = sub.add_parser("paired")
    p.add_argument("loadgen")
    p.add_argument("conns", type=int)
    p.add_argument("size", type=int)
    p.add_argument("warmup", type=float)
    p.add_argument("secs", type=float)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--b-first", action="store_true",
                   help="start B's loadgen first")
    p.set_defaults(fn=cmd_paired)
    p = sub.add_parser("hold")
    p.add_argument("n", type=int)
    p.add_argument("addrs", nargs="+")
    p.set_defaults(fn=cmd_hold)
    p = sub.add_parser("probe")
    p.add_argument("addr")
    p.add_argument("secs", type=float)
    p.add_argument("k", type=int, nargs="?", default=1)
    p.set_defaults(fn=cmd_probe)
    p = sub.add_parser("lag")
    p.add_argument("before")
    p.add_argument("after")
    p.set_defaults(fn=cmd_lag)
    p = sub.add_parser("sample")
    p.add_argument("file")
    p.add_argument("name")
    p.set_defaults(fn=cmd_sample)
    p = sub.add_parser("report")
    p.add_argument("raw")
    p.add_argument("out")
    p.add_argument("--cmd", required=True)
    p.add_argument("--settings", required=True)
    p.add_argument("--elapsed", required=True)
    p.add_argument("--base-rev", required=True)
    p.add_argument("--this-rev", required=True)
    p.add_argument("--scrape-every", required=True)
    p.add_argument("--c-setup", default="")
    p.set_defaults(fn=report)
    args = ap.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Scrape aio-echod's metrics service, for tests/metrics.bats.

    scrape.py [--timeout S] COMMAND SOURCE ...

SOURCE is where the exposition comes from: an address as the daemon
writes it (127.0.0.1:PORT, [::1]:PORT, unix:/path; GET /metrics there),
@FILE (a scrape saved before) or - (standard input).

  get SOURCE SAMPLE     print the value of the one sample SAMPLE, written
                        name or name{label="v",...} (every label must
                        match, in any order, and no other may be there)
  count SOURCE LABEL=V  print how many samples carry label LABEL = "V"
  text SOURCE           print the whole exposition
  check SOURCE          check its shape: one # HELP and one # TYPE per
                        family, before its samples, which come together;
                        no sample twice; counters and histogram buckets
                        non-negative; every histogram's buckets in
                        increasing le, cumulative, ending le="+Inf"
                        equal to its _count, with a _sum
  latency ADDR N        N scrapes, each on a new connection: print the
                        median and the largest, in ms
  keepalive ADDR N [SAMPLE]
                        N scrapes on one HTTP/1.1 keep-alive connection,
                        each 200 with a body that starts "# HELP"; print
                        "N ok" and SAMPLE's value in the last one
  promql URL QUERY      ask a Prometheus server (http://HOST:PORT) for
                        an instant vector: print its only value

Exit status 0 when it holds, 1 (with the reason on stderr) when not.
"""
import argparse
import http.client
import json
import math
import re
import socket
import statistics
import sys
import time
import urllib.parse
import urllib.request

TIMEOUT = 10.0


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a UNIX stream socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def connection(addr):
    if addr.startswith("unix:"):
        return UnixConnection(addr[5:], TIMEOUT)
    host, _, port = addr.rpartition(":")
    return http.client.HTTPConnection(host.strip("[]"), int(port),
                                      timeout=TIMEOUT)


def fetch(conn):
    """GET /metrics on conn: the body, or an AssertionError."""
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise AssertionError(f"status {r.status} {r.reason}")
    ctype = r.getheader("Content-Type")
    if ctype != "text/plain; version=0.0.4; charset=utf-8":
        raise AssertionError(f"Content-Type {ctype!r}")
    if int(r.getheader("Content-Length", "-1")) != len(body):
        raise AssertionError("Content-Length differs from the body")
    return body.decode("utf-8")


def source_text(src):
    if src == "-":
        return sys.stdin.read()
    if src.startswith("@"):
        with open(src[1:], encoding="utf-8") as f:
            return f.read()
    conn = connection(src)
    try:
        return fetch(conn)
    finally:
        conn.close()


# name{labels} value [timestamp]
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?[ ]+(\S+)"
                       r"([ ]+-?[0-9]+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*'
                      r'(,|$)')


def parse_labels(text):
    """{a="x",b="y"} -> (("a", "x"), ("b", "y")) sorted, or ValueError."""
    if not text:
        return ()
    inner, out, pos = text[1:-1], {}, 0
    while pos < len(inner):
        m = LABEL_RE.match(inner, pos)
        if m is None:
            raise ValueError(f"bad labels {text!r}")
        name = m.group(1)
        if name in out:
            raise ValueError(f"label {name} twice in {text!r}")
        value = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n"
                       else e.group(1), m.group(2))
        out[name] = value
        pos = m.end()
        if m.group(3) == "" and pos < len(inner):
            raise ValueError(f"bad labels {text!r}")
    return tuple(sorted(out.items()))


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


class Exposition:
    """The parsed text: families in order, samples in order."""

    def __init__(self, text):
        self.help, self.type = {}, {}
        self.samples = []          # (name, labels, value text, line number)
        self.problems = []
        for no, line in enumerate(text.split("\n"), 1):
            self.line(no, line)
        if not text.endswith("\n"):
            self.problems.append("the text does not end with a newline")

    def line(self, no, line):
        if line == "":
            return
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                table = self.help if parts[1] == "HELP" else self.type
                if parts[2] in table:
                    self.problems.append(f"line {no}: # {parts[1]} "
                                         f"{parts[2]} again")
                table[parts[2]] = (no, parts[3] if len(parts) > 3 else "")
            return
        m = SAMPLE_RE.match(line)
        if m is None:
            self.problems.append(f"line {no}: not a sample: {line!r}")
            return
        try:
            labels = parse_labels(m.group(2))
            parse_value(m.group(3))
        except ValueError as e:
            self.problems.append(f"line {no}: {e}")
            return
        self.samples.append((m.group(1), labels, m.group(3), no))

    def find(self, name, labels):
        return [s for s in self.samples if s[0] == name and s[1] == labels]


def parse_selector(text):
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$", text)
    if m is None:
        raise SystemExit(f"scrape.py: bad sample {text!r}")
    return m.group(1), parse_labels(m.group(2))


def family_of(name, types):
    """The family a sample name belongs to: itself, or a histogram's or
    summary's name without _bucket, _sum or _count."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[:-len(suffix)]
            if types.get(base, (0, ""))[1] in ("histogram", "summary"):
                return base
    return name


def check(exp):
    """Every problem of exp's shape, as text."""
    problems = list(exp.problems)
    families = set(exp.help) | set(exp.type)
    for f in sorted(families):
        if f not in exp.help:
            problems.append(f"{f}: no # HELP")
        if f not in exp.type:
            problems.append(f"{f}: no # TYPE")
        elif exp.type[f][1] not in ("counter", "gauge", "histogram",
                                    "summary", "untyped"):
            problems.append(f"{f}: unknown type {exp.type[f][1]!r}")
    seen, done, current = set(), set(), None
    hists = {}
    for name, labels, value, no in exp.samples:
        fam = family_of(name, exp.type)
        if fam not in exp.type:
            problems.append(f"line {no}: {name} has no # TYPE")
            continue
        if exp.type[fam][0] > no or exp.help.get(fam, (no + 1,))[0] > no:
            problems.append(f"line {no}: {name} before its # HELP/# TYPE")
        if fam != current:
            if fam in done:
                problems.append(f"line {no}: {fam}'s samples are not "
                                "together")
            if current is not None:
                done.add(current)
            current = fam
        if (name, labels) in seen:
            problems.append(f"line {no}: {name}{dict(labels)} twice")
        seen.add((name, labels))
        v = parse_value(value)
        kind = exp.type[fam][1]
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"line {no}: counter {name} without _total")
        if kind in ("counter", "histogram") and not v >= 0:
            problems.append(f"line {no}: {name} is {value}")
        if kind == "histogram":
            key = tuple(kv for kv in labels if kv[0] != "le")
            h = hists.setdefault((fam, key), {"buckets": [], "line": no})
            if name == fam + "_bucket":
                le = dict(labels).get("le")
                if le is None:
                    problems.append(f"line {no}: a bucket without le")
                    continue
                h["buckets"].append((parse_value(le), v, no))
            elif name == fam + "_count":
                h["count"] = v
            elif name == fam + "_sum":
                h["sum"] = v
            else:
                problems.append(f"line {no}: {name} in histogram {fam}")
    for (fam, key), h in hists.items():
        where = f"{fam}{dict(key)}"
        b = h["buckets"]
        if not b:
            problems.append(f"{where}: no buckets")
            continue
        for (le0, c0, _), (le1, c1, no) in zip(b, b[1:]):
            if not le1 > le0:
                problems.append(f"line {no}: {where}: le not increasing")
            if c1 < c0:
                problems.append(f"line {no}: {where}: bucket counts "
                                "not cumulative")
        if b[-1][0] != math.inf:
            problems.append(f"{where}: the last bucket is not le=\"+Inf\"")
        if "count" not in h:
            problems.append(f"{where}: no _count")
        elif b[-1][1] != h["count"]:
            problems.append(f"{where}: le=\"+Inf\" is {b[-1][1]:g}, "
                            f"_count {h['count']:g}")
        if "sum" not in h:
            problems.append(f"{where}: no _sum")
    return problems


def cmd_get(a):
    exp = Exposition(source_text(a.source))
    name, labels = parse_selector(a.sample)
    found = exp.find(name, labels)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} samples {a.sample}")
    print(found[0][2])


def cmd_count(a):
    label, _, value = a.label.partition("=")
    value = value.strip('"')
    exp = Exposition(source_text(a.source))
    print(sum(1 for s in exp.samples if dict(s[1]).get(label) == value))


def cmd_text(a):
    sys.stdout.write(source_text(a.source))


def cmd_check(a):
    exp = Exposition(source_text(a.source))
    problems = check(exp)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise AssertionError(f"{len(problems)} problems")
    hists = sum(1 for t in exp.type.values() if t[1] == "histogram")
    print(f"{len(exp.type)} families, {hists} histograms, "
          f"{len(exp.samples)} samples: ok")


def cmd_latency(a):
    ms = []
    for _ in range(a.n):
        t0 = time.monotonic()
        conn = connection(a.addr)
        try:
            fetch(conn)
        finally:
            conn.close()
        ms.append((time.monotonic() - t0) * 1000)
    print(f"median {statistics.median(ms):.1f} max {max(ms):.1f}")


def cmd_keepalive(a):
    conn = connection(a.addr)
    body = ""
    for i in range(a.n):
        try:
            body = fetch(conn)
        except Exception as e:
            raise AssertionError(f"scrape {i + 1}: {e!r}") from e
        if not body.startswith("# HELP"):
            raise AssertionError(f"scrape {i + 1}: body {body[:40]!r}")
    conn.close()
    print(f"{a.n} ok")
    if a.sample:
        name, labels = parse_selector(a.sample)
        found = Exposition(body).find(name, labels)
        if len(found) != 1:
            raise AssertionError(f"{len(found)} samples {a.sample}")
        print(found[0][2])


def cmd_promql(a):
    url = (a.url.rstrip("/") + "/api/v1/query?" +
           urllib.parse.urlencode({"query": a.query}))
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        answer = json.load(r)
    if answer.get("status") != "success":
        raise AssertionError(f"answer {answer}")
    result = answer["data"]["result"]
    if len(result) != 1:
        raise AssertionError(f"{len(result)} series: {result}")
    print(result[0]["value"][1])


def main():
    global TIMEOUT
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds for each connect, read and write")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get")
    g.add_argument("source")
    g.add_argument("sample")
    c = sub.add_parser("count")
    c.add_argument("source")
    c.add_argument("label")
    sub.add_parser("text").add_argument("source")
    sub.add_parser("check").add_argument("source")
    la = sub.add_parser("latency")
    la.add_argument("addr")
    la.add_argument("n", type=int)
    k = sub.add_parser("keepalive")
    k.add_argument("addr")
    k.add_argument("n", type=int)
    k.add_argument("sample", nargs="?")
    q = sub.add_parser("promql")
    q.add_argument("url")
    q.add_argument("query")
    a = p.parse_args()
    TIMEOUT = a.timeout
    try:
        globals()["cmd_" + a.cmd](a)
    except (AssertionError, OSError, http.client.HTTPException,
            ValueError) as e:
        print(f"scrape.py {a.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives load on a Ferrokeeper and checks what Prometheus scraped from it.

    check.py HOST:PORT PROMETHEUS_URL
"""
import json
import struct
import os
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ops"))
from session import Client, jbuf, jstr  # noqa: E402

CREATED = 40
RESULTS = []


def result(name, ok, why=""):
    RESULTS.append(ok)
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def api(prom, path, **params):
    url = "%s/api/v1/%s?%s" % (prom, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def scalar(prom, query):
    """The value of a one-series query, or None."""
    try:
        res = api(prom, "query", query=query)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return None
    return float(res[0]["value"][1]) if res else None


def wait_for(pred, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    return pred()


def main():
    addr, prom = sys.argv[1], sys.argv[2].rstrip("/")
    up = wait_for(lambda: scalar(prom, 'up{job="ferrokeeper"}') == 1.0, 60)
    result("scrape_up", bool(up), "Prometheus never scraped Ferrokeeper's /metrics")
    if not up:
        return
    before = wait_for(lambda: scalar(prom, "znode_count"))
    reads_before = scalar(prom, "readlatency_count") or 0.0
    writes_before = scalar(prom, "updatelatency_count") or 0.0
    print("INFO znode_count before: %s" % before)
    result("znode_count_fresh_server", before == 5.0,
           "a fresh server has 5 znodes as ZooKeeper counts them, got %s" % before)

    c = Client(addr)
    c.create("/promtest", b"")
    for i in range(CREATED - 1):
        c.create("/promtest/n%03d" % i, b"x" * 100)
    deadline = time.time() + 6
    n = 0
    while time.time() < deadline:  # load: reads and writes for a few scrapes
        c.get_data("/promtest/n%03d" % (n % (CREATED - 1)), False)
        if n % 10 == 0:
            c.call(5, jstr("/promtest/n000") + jbuf(b"y") + struct.pack(">i", -1))
        n += 1
    print("INFO requests issued under load: %d" % n)

    want = (before or 0) + CREATED
    after = wait_for(lambda: scalar(prom, "znode_count") == want and want, 20)
    got = scalar(prom, "znode_count")
    result("znode_count_equals_created", bool(after),
           "znode_count %s, expected %s + %d created" % (got, before, CREATED))

    reads = wait_for(lambda: (scalar(prom, "readlatency_count") or 0) > reads_before + n * 0.9, 20)
    result("readlatency_moved", bool(reads), "readlatency_count %s -> %s under %d reads" % (
        reads_before, scalar(prom, "readlatency_count"), n))
    writes = wait_for(lambda: (scalar(prom, "updatelatency_count") or 0) >= writes_before + CREATED, 20)
    result("updatelatency_moved", bool(writes), "updatelatency_count %s -> %s" % (
        writes_before, scalar(prom, "updatelatency_count")))
    rate = wait_for(lambda: (scalar(prom, "rate(readlatency_count[10s])") or 0) > 0, 10)
    result("readlatency_rate_positive", bool(rate), "rate(readlatency_count[10s]) is 0")
    q = scalar(prom, 'readlatency{quantile="0.5"}')
    result("readlatency_quantile_series", q is not None, "no readlatency{quantile=\"0.5\"} series")
    fsync = scalar(prom, "fsynctime_count") or 0
    result("fsynctime_moved", fsync > 0, "fsynctime_count is %s" % fsync)

    # ZooKeeper's names with ZooKeeper's types
    try:
        meta = api(prom, "metadata")["data"]
    except (OSError, ValueError, KeyError) as e:
        meta = {}
        print("INFO metadata: %s" % e)
    want_types = {"znode_count": "gauge", "watch_count": "gauge", "ephemerals_count": "gauge",
                  "approximate_data_size": "gauge", "num_alive_connections": "gauge",
                  "outstanding_requests": "gauge", "packets_received": "gauge",
                  "packets_sent": "gauge", "global_sessions": "gauge", "uptime": "gauge",
                  "readlatency": "summary", "updatelatency": "summary",
                  "fsynctime": "summary", "snapshottime": "summary",
                  "looking_count": "counter", "connection_request_count": "counter"}
    bad = {k: (meta.get(k) or [{}])[0].get("type") for k, t in want_types.items()
           if (meta.get(k) or [{}])[0].get("type") != t}
    result("metric_types", not bad, "wrong or missing types: %s" % bad)
    conns = scalar(prom, "num_alive_connections")
    result("num_alive_connections", conns is not None and conns >= 1,
           "num_alive_connections %s with a client connected" % conns)
    c.call(-11, b"")


if __name__ == "__main__":
    main()
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)

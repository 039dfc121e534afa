#!/usr/bin/env python3
"""The example's web-server log: a deterministic generator, and the expected window results.

    weblogs.py lines N          # N access-log lines on stdout (and a few garbage lines)
    weblogs.py expect N         # the per-service 10 s window results the pipeline must produce

Lines look like nginx's with $time_iso8601 (ms) and the request time in ms at the end:

    10.23.7.141 - - [2023-11-14T22:13:20.004+00:00] "GET /cart/items/4411 HTTP/1.1" 200 5120 37

Every 25,000th line is a garbage line (a log rotation note), which the job skips
('ignore_parse_errors'). Nothing here depends on Ferrokeeper's code: check.py recomputes the
results from these events alone.
"""
import sys
from datetime import datetime, timezone

M64 = (1 << 64) - 1
SERVICES = ["auth", "cart", "catalog", "checkout", "search", "payments",
            "users", "orders", "shipping", "reviews", "inventory", "gateway"]
# Error rate per service, per mille: payments and checkout fail more often.
ERR_PERMILLE = {"payments": 60, "checkout": 35}
METHODS = ["GET"] * 6 + ["POST"] * 2 + ["PUT", "DELETE"]
T0 = 1_700_000_000_000  # ms
STEP_MS = 5             # 200 requests/s
WINDOW_MS = 10_000


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def event(i):
    """Request i: (ts ms, ip, method, service, path, status, bytes, latency ms)."""
    h = mix64(((i + 1) * 0x9E3779B97F4A7C15) & M64)
    # Served out of order by up to 0.5 s (the job's watermark allows 2 s).
    ts = T0 + i * STEP_MS - h % 500
    service = SERVICES[(h >> 8) % len(SERVICES)]
    method = METHODS[(h >> 16) % len(METHODS)]
    r = (h >> 24) % 1000
    err = ERR_PERMILLE.get(service, 10)
    if r < err:
        status = (500, 502, 503)[r % 3]
    elif r < err + 30:
        status = 404
    else:
        status = 201 if method == "POST" else 200
    latency = 1 + (h >> 34) % 300
    if status >= 500:
        latency += (h >> 44) % 2000
    ip = f"10.{(h >> 4) & 255}.{(h >> 12) & 255}.{(h >> 20) & 255}"
    path = f"/{service}/items/{(h >> 50) % 10000}"
    return ts, ip, method, service, path, status, (h >> 40) % 20000, latency


def garbage(i):
    return i % 25_000 == 24_999


def iso(ms):
    t = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+00:00"


def lines(n):
    out = sys.stdout
    for i in range(n):
        if garbage(i):
            out.write(f"-- log rotated at request {i} --\n")
            continue
        ts, ip, method, _, path, status, size, latency = event(i)
        out.write(f'{ip} - - [{iso(ts)}] "{method} {path} HTTP/1.1" {status} {size} {latency}\n')


def expect(n):
    """{(service, window start ms): [requests, errors, latency sum, latency max]}"""
    acc = {}
    for i in range(n):
        if garbage(i):
            continue
        ts, _, _, service, _, status, _, latency = event(i)
        a = acc.setdefault((service, ts - ts % WINDOW_MS), [0, 0, 0, 0])
        a[0] += 1
        a[1] += status >= 500
        a[2] += latency
        a[3] = max(a[3], latency)
    return acc


if __name__ == "__main__":
    what, n = sys.argv[1], int(sys.argv[2])
    if what == "lines":
        lines(n)
    else:
        for (s, start), (req, errs, lsum, lmax) in sorted(expect(n).items()):
            print(f"{s},{start},{start + WINDOW_MS},{req},{errs},{lsum},{lmax}")

#!/usr/bin/env python3
"""Reads one sink's rows back (as an independent reader left them) and checks them against
the results recomputed from the log itself (weblogs.py).

    check.py N KIND PATH
      KIND csv:   CSV rows (part files of a directory, psql's COPY, clickhouse-client)
      KIND json:  JSON lines (kcat's dump of the Kafka topic)

Columns: service, window_start, window_end, requests, errors, latency_sum, latency_max,
latency_avg; window bounds as ms or as 'YYYY-MM-DD HH:MM:SS[.fff]' (UTC). Prints one JSON
line (rows, checksum, duplicates, missing, unexpected, bad_avg) and exits 0 only when the
rows are exactly the expected ones, each once, with means equal to sum / count.
"""
import csv
import glob
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

import weblogs

FIELDS = ["service", "window_start", "window_end", "requests", "errors",
          "latency_sum", "latency_max", "latency_avg"]


def ms(v):
    v = str(v).strip()
    if v.lstrip("-").isdigit():
        return int(v)
    t = datetime.fromisoformat(v).replace(tzinfo=timezone.utc)
    return round(t.timestamp() * 1000)


def rows_of(kind, path):
    files = sorted(glob.glob(os.path.join(path, "part-*"))) if os.path.isdir(path) else [path]
    for f in files:
        with open(f, newline="") as fh:
            if kind == "json":
                for line in fh:
                    if line.strip():
                        d = json.loads(line)
                        yield [d[k] for k in FIELDS]
            else:
                yield from (r for r in csv.reader(fh) if r)


def checksum(keys):
    h = hashlib.sha256()
    for k in sorted(keys):
        h.update((",".join(map(str, k)) + "\n").encode())
    return h.hexdigest()[:16]


def main():
    n, kind, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    want = {(s, start, start + weblogs.WINDOW_MS, *a)
            for (s, start), a in weblogs.expect(n).items()}
    got, bad_avg = [], 0
    for r in rows_of(kind, path):
        s, start, end, req, err, lsum, lmax, avg = r
        key = (s, ms(start), ms(end), int(req), int(err), int(lsum), int(lmax))
        if abs(float(avg) - key[5] / key[3]) > 1e-6 * max(1.0, key[5] / key[3]):
            bad_avg += 1
        got.append(key)
    seen = set(got)
    out = {"rows": len(got), "checksum": checksum(got), "expected_rows": len(want),
           "expected_checksum": checksum(want), "duplicates": len(got) - len(seen),
           "missing": len(want - seen), "unexpected": len(seen - want), "bad_avg": bad_avg}
    print(json.dumps(out))
    ok = seen == want and len(got) == len(seen) and bad_avg == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

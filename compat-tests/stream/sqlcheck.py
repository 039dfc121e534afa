#!/usr/bin/env python3
"""compat-tests/stream/sqlcheck.py - the independent side of compat-tests/stream/sql.sh.

  sqlcheck.py gen N FILES DIR [csv|json]  the benchmark's events 0..N-1 as FILES files in DIR,
                                          file k holding events k, k+FILES, ... (one split each)
  sqlcheck.py sink DIR                    reads every published part-* file of a sink directory
                                          and prints {"rows", "checksum", "duplicates"} as JSON:
                                          the benchmark's checksum recomputed from the rows
  sqlcheck.py same DIR_A DIR_B            exit 0 when both sinks hold the same rows, none twice
  sqlcheck.py read N POSITIONS DIR        exit 0 when a sink holds exactly the benchmark's 10 s
                                          tumbling windows of the datagen events its splits read
                                          (POSITIONS: the checkpoint's, a JSON list), none twice

The generator and the checksum are written from the issue's definition, not from Ferrokeeper's
code: unsigned 64-bit wrapping arithmetic, logical shifts.
"""
import json
import os
import sys

M = (1 << 64) - 1


def mix64(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def event(i):
    h = mix64(((i + 1) * 0x9E3779B97F4A7C15) & M)
    ts = 1_700_000_000_000 + i + (i // 50_000) * 8_000 - h % 1000
    tier, pick = (h >> 10) % 1000, (h >> 20) % 1_000_000
    if tier < 600:
        service = pick % 10
    elif tier < 990:
        service = 10 + pick % 40
    else:
        service = 50 + pick % 50
    lv = (h >> 40) % 100
    level, bound = ("INFO", 200) if lv < 90 else (("WARN", 1000) if lv < 98 else ("ERROR", 5000))
    return ts, service, level, 1 + (h >> 47) % bound


def gen(n, files, out, fmt):
    os.makedirs(out, exist_ok=True)
    for k in range(files):
        with open(os.path.join(out, f"part{k}.{fmt}"), "w") as f:
            for i in range(k, n, files):
                ts, service, level, lat = event(i)
                if fmt == "json":
                    f.write(json.dumps({"ts": ts, "service": service, "level": level, "latency": lat}) + "\n")
                else:
                    f.write(f"{ts},{service},{level},{lat}\n")


def rows(d):
    out = []
    for name in sorted(os.listdir(d)):
        if name.startswith("part-"):
            with open(os.path.join(d, name)) as f:
                out.extend(line.rstrip("\n") for line in f if line.strip())
    return out


def checksum(lines):
    total = 0
    for line in lines:
        r = 0
        for field in line.split(","):
            r = mix64(r ^ (int(field) & M))
        total = (total + r) & M
    return total


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else "csv")
    elif cmd == "sink":
        lines = rows(sys.argv[2])
        print(json.dumps({"rows": len(lines), "checksum": f"{checksum(lines):016x}",
                          "duplicates": len(lines) - len(set(lines))}))
    elif cmd == "same":
        a, b = rows(sys.argv[2]), rows(sys.argv[3])
        dup = len(b) - len(set(b))
        if dup or sorted(a) != sorted(b):
            print(f"{len(a)} rows vs {len(b)} rows, {dup} twice, {len(set(a) ^ set(b))} differ")
            sys.exit(1)
    elif cmd == "read":
        # A drained job's sink: exactly the 10 s tumbling windows of the events its splits
        # had read (the last checkpoint's positions: split k of S read events k + j*S for
        # j below its position), none twice. Datagen's events are at most 1 s out of order,
        # within the 2 s watermark delay, so none is late.
        n, positions, b = int(sys.argv[2]), json.loads(sys.argv[3]), rows(sys.argv[4])
        splits, agg = len(positions), {}
        for k, pos in enumerate(positions):
            for i in range(k, min(n, k + pos * splits), splits):
                ts, service, level, lat = event(i)
                start = ts - ts % 10_000
                a = agg.setdefault((service, start), [0, 0, 0])
                a[0] += 1
                a[1] += level == "ERROR"
                a[2] += lat
        want = sorted(f"{s},{t},{t + 10_000},{c},{e},{l}" for (s, t), (c, e, l) in agg.items())
        dup = len(b) - len(set(b))
        if dup or sorted(b) != want:
            print(f"{len(b)} rows vs {len(want)} from the events read, {dup} twice, {len(set(b) ^ set(want))} differ")
            sys.exit(1)
        print(f"{len(b)} rows, the windows of the {sum(positions)} events read")
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

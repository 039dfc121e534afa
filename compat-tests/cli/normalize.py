#!/usr/bin/env python3
"""Normalize and compare CLI transcripts written by driver.py.

  normalize.py normalize {zkcli|climt} ADDR RAW OUT
  normalize.py compare ACTUAL LABEL EXPECTED [EXPECTED...]

normalize: removes what legitimately differs between servers or runs and
keeps everything else:
  * client log noise (SLF4J lines, C client ZOO_* log prefixes), blank lines
    and zkCli's "WATCHER::" banner lines
  * the server address -> <ADDR>
  * ctime/mtime -> <time>; cli_mt's "time = N msec" -> <ms>
  * zxids (cZxid/mZxid/pZxid, cli_mt czxid/mzxid) -> <zxN>, numbered by
    first appearance, so equal zxids stay equal and different ones differ
  * session ids (ephemeralOwner, cli_mt "Got a new session id", myid) ->
    <sessionN>, numbered by first appearance
  * zkCli watch events ("WatchedEvent ...") are printed by the client's event
    thread and may interleave with the command's own output: they are moved
    after the command's output (keeping their order)
  * a command line marked `#sort` has its output lines sorted, and the
    elements of one-line lists "[a, b]" too (used where the order is a
    server-side hash-set iteration order: whoami, getEphemerals)

compare: compares normalized transcripts section by section (`### NAME`): a
section passes iff it is identical in ACTUAL and in every EXPECTED file.
Prints `PASS LABEL/NAME` or `FAIL LABEL/NAME` (followed by a unified diff
against each differing EXPECTED) per section, and finally
`N passed, M failed`.  Exit status 0.
"""

import difflib
import re
import sys


class Relabel(object):
    def __init__(self, prefix):
        self.prefix = prefix
        self.map = {}

    def __call__(self, value):
        if value not in self.map:
            self.map[value] = "<%s%d>" % (self.prefix, len(self.map) + 1)
        return self.map[value]


def sort_list_line(line):
    """'[b, a]' -> '[a, b]' (zkCli prints Java lists on one line)."""
    m = re.match(r"^\[(.*)\]$", line)
    if not m or not m.group(1):
        return line
    return "[%s]" % ", ".join(sorted(m.group(1).split(", ")))


def parse_blocks(lines):
    """Yield (header, body) where header is a '### ' or '> ' line (or None
    for leading lines)."""
    header, body = None, []
    for line in lines:
        if line.startswith("### ") or line.startswith("> "):
            yield header, body
            header, body = line, []
        else:
            body.append(line)
    yield header, body


def normalize(kind, addr, raw_lines):
    zx = Relabel("zx")
    sess = Relabel("session")

    def zxid(hexstr):
        return zx(int(hexstr, 16))

    def session(hexstr):
        v = int(hexstr, 16)
        if v == 0:
            return "0x0" if kind == "zkcli" else "0"
        return sess(v)

    def norm_line(line):
        line = line.rstrip()
        if addr:
            line = line.replace(addr, "<ADDR>")
        if kind == "zkcli":
            m = re.match(r"^(cZxid|mZxid|pZxid) = 0x([0-9a-fA-F]+)$", line)
            if m:
                return "%s = %s" % (m.group(1), zxid(m.group(2)))
            m = re.match(r"^(ctime|mtime) = .*$", line)
            if m:
                return "%s = <time>" % m.group(1)
            m = re.match(r"^ephemeralOwner = 0x([0-9a-fA-F]+)$", line)
            if m:
                return "ephemeralOwner = %s" % session(m.group(1))
        else:
            # C client: strip log prefixes "2024-..:PID(0xTID):ZOO_WARN@fn@LINE: msg"
            m = re.match(r"^.*?:\d+\(0x[0-9a-f]+\):(ZOO_[A-Z]+)@([^@:]+)@\d+: (.*)$",
                         line)
            if m:
                line = "%s@%s: %s" % m.groups()
            line = re.sub(r"^time = -?\d+ msec$", "time = <ms> msec", line)
            m = re.match(r"^\t(ctime|mtime) ?= ?.*$", line)
            if m:
                return "\t%s = <time>" % m.group(1)
            m = re.match(r"^\t(czxid|mzxid)=([0-9a-fA-F]+)$", line)
            if m:
                return "\t%s=%s" % (m.group(1), zxid(m.group(2)))
            m = re.match(r"^\tephemeralOwner = ([0-9a-fA-F]+)$", line)
            if m:
                return "\tephemeralOwner = %s" % session(m.group(1))
            m = re.match(r"^Got a new session id: 0x([0-9a-fA-F]+)$", line)
            if m:
                return "Got a new session id: %s" % session(m.group(1))
            m = re.match(r"^session Id = ([0-9a-fA-F]+)$", line)
            if m:
                return "session Id = %s" % session(m.group(1))
        return line

    def keep(line):
        if not line.strip():
            return False
        if kind == "zkcli":
            if line.startswith("SLF4J:") or line == "WATCHER::":
                return False
        return True

    out = []
    for header, body in parse_blocks(raw_lines):
        if header is not None:
            out.append(norm_line(header))
        body = [norm_line(l) for l in body if keep(l)]
        if kind == "zkcli" and header == "### (shutdown)":
            # zkCli's quit closes the session and exits the JVM at once; whether its
            # event thread prints the Closed event first is a race inside the client,
            # lost now and then on a busy machine against either server.
            body = [l for l in body
                    if l != "WatchedEvent state:Closed type:None path:null"]
        if kind == "zkcli":
            events = [l for l in body if l.startswith("WatchedEvent ")]
            body = [l for l in body if not l.startswith("WatchedEvent ")] \
                + events
        if header is not None and header.startswith("> ") and \
                re.search(r"#(?:.*\b)?sort\b", header):
            body = sorted(sort_list_line(l) for l in body)
        out.extend(body)
    return out


def sections(lines):
    res, order = {}, []
    name = "(before first section)"
    for line in lines:
        if line.startswith("### "):
            name = line[4:]
            if name in res:  # duplicate name: make it unique
                name = "%s#%d" % (name, len(order))
            res[name] = []
            order.append(name)
        else:
            res.setdefault(name, [])
            if name not in order:
                order.append(name)
            res[name].append(line)
    return order, res


def compare(actual_path, label, expected_paths):
    """A section passes iff it equals the same section in every expected
    transcript.  Prints PASS/FAIL LABEL/SECTION lines (diffs below a FAIL)
    and returns (passed, failed)."""
    with open(actual_path) as f:
        aorder, asec = sections(f.read().splitlines())
    refs = []
    for path in expected_paths:
        with open(path) as f:
            refs.append((path,) + sections(f.read().splitlines()))
    names = []
    for _, order, _ in refs:
        names += [n for n in order if n not in names]
    names += [n for n in aorder if n not in names]
    passed = failed = 0
    for name in names:
        a = asec.get(name)
        bad = [(path, sec.get(name)) for path, _, sec in refs
               if sec.get(name) != a]
        if not bad:
            passed += 1
            print("PASS %s/%s" % (label, name))
            continue
        failed += 1
        print("FAIL %s/%s" % (label, name))
        shown = []
        for path, e in bad:
            if e in shown:
                print("    (%s: same difference)" % path)
                continue
            shown.append(e)
            for d in difflib.unified_diff(
                    e or [], a or [],
                    "%s (%s)" % (path, name) if e is not None
                    else "%s (no such section)" % path,
                    "actual (%s)" % name if a is not None
                    else "actual (no such section)",
                    lineterm="", n=2):
                print("    " + d)
    return passed, failed


def main(argv):
    if len(argv) >= 2 and argv[1] == "normalize" and len(argv) == 6:
        kind, addr, raw, out = argv[2:]
        with open(raw) as f:
            lines = f.read().splitlines()
        with open(out, "w") as f:
            f.write("\n".join(normalize(kind, addr, lines)) + "\n")
        return 0
    if len(argv) >= 5 and argv[1] == "compare":
        passed, failed = compare(argv[2], argv[3], argv[4:])
        print("%d passed, %d failed" % (passed, failed))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

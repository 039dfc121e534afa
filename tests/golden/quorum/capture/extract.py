#!/usr/bin/env python3
"""Cuts a tcpdump capture of a ZooKeeper ensemble into golden quorum messages.

usage: extract.py CAPTURE.pcap OUT_DIR

Reassembles every TCP connection per direction, then parses:
- quorum ports (22888-22891): back-to-back jute QuorumPackets, no length prefix; after a
  SNAP packet the leader streams the raw snapshot, so that direction stops being parsed.
- election ports (23888-23891): the dialer's initial message (long version, long sid, int
  len, address), then on both directions int-length-prefixed notifications.

Writes one .bin per message kind (the first seen), a few short whole-stream samples, and
MANIFEST (tab-separated: file, kind, type, zxid, direction, note).
"""
import os
import struct
import sys

import dpkt

QUORUM_PORTS = range(22888, 22892)
ELECTION_PORTS = range(23888, 23892)
NAMES = {1: "request", 2: "proposal", 3: "ack", 4: "commit", 5: "ping", 6: "revalidate",
         7: "sync", 8: "inform", 9: "commitandactivate", 10: "newleader", 11: "followerinfo",
         12: "uptodate", 13: "diff", 14: "trunc", 15: "snap", 16: "observerinfo",
         17: "leaderinfo", 18: "ackepoch", 19: "informandactivate"}
STATES = {0: "looking", 1: "following", 2: "leading", 3: "observing"}
TXN_NAMES = {1: "create", 2: "delete", 5: "setdata", 7: "setacl", 9: "sync", 14: "multi",
             15: "create2", 16: "reconfig", -10: "createsession", -11: "closesession", -1: "error"}


def streams(path):
    """{(src_port, dst_port, conn_no): bytes} in capture order, deduplicating by seq."""
    conns = {}
    with open(path, "rb") as f:
        for _ts, raw in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(raw).data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            key = (tcp.sport, tcp.dport)
            if tcp.flags & dpkt.tcp.TH_SYN:
                # A new connection on a reused port pair starts a fresh stream.
                conns[key] = {"isn": tcp.seq + 1, "segs": {}, "order": len(conns)}
                continue
            c = conns.get(key)
            if c is None or not tcp.data:
                continue
            c["segs"].setdefault(tcp.seq, bytes(tcp.data))
    out = []
    for (sport, dport), c in conns.items():
        data, pos = b"", c["isn"]
        for seq in sorted(c["segs"]):
            seg = c["segs"][seq]
            if seq + len(seg) <= pos:
                continue
            data += seg[pos - seq:]
            pos = seq + len(seg)
        if data:
            out.append((c["order"], sport, dport, data))
    out.sort()
    return out


SIGNATURE = struct.pack(">i", 10) + b"BenWasHere"


def quorum_packets(data):
    """Yields (raw, type, zxid, data_or_None, snapshot_or_None). After a SNAP packet the
    leader streams the snapshot body and the ustring "BenWasHere"; that body is returned as
    the SNAP's snapshot and packet parsing resumes after the signature."""
    off = 0
    while off + 16 <= len(data):
        start = off
        t, zxid, n = struct.unpack_from(">iqi", data, off)
        off += 16
        body = None
        if n >= 0:
            if off + n > len(data):
                return
            body = data[off:off + n]
            off += n
        if off + 4 > len(data):
            return
        (cnt,) = struct.unpack_from(">i", data, off)
        off += 4
        for _ in range(max(cnt, 0)):
            for _field in range(2):
                (ln,) = struct.unpack_from(">i", data, off)
                off += 4 + max(ln, 0)
        raw = data[start:off]
        snapshot = None
        if t == 15:
            end = data.find(SIGNATURE, off)
            if end < 0:
                yield raw, t, zxid, body, data[off:]
                return
            snapshot = data[off:end + len(SIGNATURE)]
            off = end + len(SIGNATURE)
        yield raw, t, zxid, body, snapshot


def main():
    pcap, out_dir = sys.argv[1], sys.argv[2]
    written = {}
    manifest = []

    def save(name, raw, kind, t, zxid, direction, note=""):
        if name in written:
            return
        written[name] = True
        with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
            f.write(raw)
        manifest.append((name + ".bin", kind, str(t), "0x%x" % (zxid & 0xffffffffffffffff),
                         direction, note))

    for _order, sport, dport, data in streams(pcap):
        if sport in QUORUM_PORTS or dport in QUORUM_PORTS:
            direction = "leader->learner" if sport in QUORUM_PORTS else "learner->leader"
            pkts = list(quorum_packets(data))
            for raw, t, zxid, body, snap_rest in pkts:
                name = NAMES.get(t, "type%d" % t)
                note = ""
                if t in (2, 8, 19) and body:
                    # TxnHeader: clientId, cxid, zxid, time, then the int type at 28;
                    # INFORMANDACTIVATE puts the designated leader sid (8 bytes) first.
                    at = 36 if t == 19 else 28
                    if len(body) >= at + 4:
                        txn_type = struct.unpack_from(">i", body, at)[0]
                        name += "_" + TXN_NAMES.get(txn_type, "txn%d" % txn_type)
                elif t == 1 and body and len(body) >= 16:
                    op = struct.unpack_from(">i", body, 12)[0]
                    name += "_" + TXN_NAMES.get(op, "op%d" % op)
                elif t == 13 and zxid != 0:
                    name += "_catchup"
                elif t == 5:
                    name += "_learner" if direction == "learner->leader" else "_leader"
                    if body:
                        name += "_touch"
                elif t == 6:
                    name += "_answer" if direction == "leader->learner" else "_ask"
                elif t == 3:
                    name += "_newleader" if zxid & 0xffffffff == 0 else ""
                elif t == 18 and body == b"\xff\xff\xff\xff":
                    name += "_same_epoch"
                if t == 15 and snap_rest is not None:
                    # The raw snapshot follows the SNAP packet (small here: keep up to 4 KiB).
                    save("snap_with_snapshot", raw + snap_rest[:4096], "snap+snapshot", t, zxid,
                         direction, "SNAP packet then %d of the %d snapshot bytes"
                         % (min(len(snap_rest), 4096), len(snap_rest)))
                save(name, raw, "quorum_packet", t, zxid, direction, note)
            if direction == "learner->leader" and "stream_learner" not in written and len(pkts) > 4:
                save("stream_learner", b"".join(p[0] for p in pkts[:8]), "quorum_stream", 0, 0,
                     direction, "first 8 packets of a learner's stream, back to back")
            if direction == "leader->learner" and "stream_leader_diff" not in written \
                    and any(p[1] == 13 and p[2] != 0 for p in pkts[:2]) and len(pkts) > 4:
                save("stream_leader_diff", b"".join(p[0] for p in pkts[:8]), "quorum_stream", 0, 0,
                     direction, "first 8 packets of a leader's stream that syncs by DIFF")
        elif sport in ELECTION_PORTS or dport in ELECTION_PORTS:
            dialer = dport in ELECTION_PORTS
            off, frames = 0, 0
            if dialer and len(data) >= 20:
                ver, sid, n = struct.unpack_from(">qqi", data, 0)
                off = 20 + n
                save("election_initial", data[:off], "election_initial", 0, 0,
                     "dialer->acceptor", "version %d sid %d" % (ver, sid))
            while off + 4 <= len(data):
                (n,) = struct.unpack_from(">i", data, off)
                if n <= 0 or off + 4 + n > len(data):
                    break
                frame = data[off:off + 4 + n]
                off += 4 + n
                frames += 1
                (state,) = struct.unpack_from(">i", frame, 4)
                leader, zxid = struct.unpack_from(">qq", frame, 8)
                name = "notification_" + STATES.get(state, "state%d" % state)
                if leader == -(1 << 63):
                    name += "_nonvoter"  # observers propose Long.MIN_VALUE for everything
                elif state == 0 and zxid != 0:
                    name += "_rejoin"
                save(name, frame,
                     "election_frame", state, zxid, "dialer->acceptor" if dialer else
                     "acceptor->dialer", "proposed leader %d" % leader)
            if "election_stream" not in written and frames >= 2 and dialer:
                save("election_stream", data[:off], "election_stream", 0, 0, "dialer->acceptor",
                     "initial message then notifications, back to back")

    manifest.sort()
    with open(os.path.join(out_dir, "MANIFEST"), "w") as f:
        f.write("# file\tkind\ttype\tzxid\tdirection\tnote -- generated by capture/extract.py\n")
        for row in manifest:
            f.write("\t".join(row) + "\n")
    print("wrote %d files" % len(manifest))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""compat-tests/stream/lineserver.py - the TCP peer of compat-tests/stream/socket.sh.

  lineserver.py PORT DATA [--rate BYTES_PER_S] [--from-spool SPOOL]

Listens on 127.0.0.1:PORT and, on each connection, sends DATA's bytes (lines) and closes, as
`nc -lk` serving a file would. --rate paces the sending (so a job can be killed mid-stream).
--from-spool starts each connection at the current size of SPOOL: a sender that replays what
its reader has not stored (the offset a replay protocol would carry), so a job killed
mid-connection and resumed can be compared with one that was not; bytes in flight when a
reader dies are otherwise lost, as with any TCP source.
"""
import argparse
import os
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("data")
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--from-spool")
    a = ap.parse_args()
    with open(a.data, "rb") as f:
        data = f.read()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        start = 0
        if a.from_spool and os.path.exists(a.from_spool):
            start = os.path.getsize(a.from_spool)
        began = time.monotonic()
        try:
            for at in range(start, len(data), 65536):
                if a.rate:
                    ahead = (at - start) / a.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
                conn.sendall(data[at:at + 65536])
        except OSError:
            pass  # the reader died: wait for the next connection
        conn.close()


if __name__ == "__main__":
    main()

"""compat-tests/quorum-tls/zk.py - the suite's client (kazoo):
  zk.py write HOSTS PATH VALUE   create or set PATH (parents made), exit 0 when done
  zk.py read HOST PATH           print PATH's data as seen by that one server after a sync
Exit status 1 (and the reason on stderr) when the server(s) cannot be reached in time."""
import sys

from kazoo.client import KazooClient


def client(hosts):
    zk = KazooClient(hosts=hosts, timeout=6, connection_retry={"max_tries": 2})
    zk.start(timeout=8)
    return zk


def main():
    cmd, hosts, path = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        zk = client(hosts)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the answer
        print(f"cannot connect to {hosts}: {e!r}", file=sys.stderr)
        return 1
    try:
        if cmd == "write":
            value = sys.argv[4].encode()
            if zk.exists(path):
                zk.set(path, value)
            else:
                zk.create(path, value, makepath=True)
        elif cmd == "read":
            zk.sync(path)
            data, _ = zk.get(path)
            print(data.decode())
        else:
            print(f"unknown command {cmd}", file=sys.stderr)
            return 2
    except Exception as e:  # noqa: BLE001
        print(f"{cmd} {path} on {hosts}: {e!r}", file=sys.stderr)
        return 1
    finally:
        zk.stop()
        zk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

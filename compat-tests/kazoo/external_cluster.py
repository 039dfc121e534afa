"""pytest plugin: run kazoo's own test suite against an external server.

Load with ``-p external_cluster`` (this directory on PYTHONPATH) and give the
server address in the environment variable ``KAZOO_EXTERNAL_ADDR``
(``host:port``, or ``host:port,host:port,...`` for an ensemble) or with
``--external-addr``.

kazoo's harness (kazoo.testing.harness) normally starts a 3-node ZooKeeper
ensemble from a local installation.  We replace ``get_global_cluster`` with a
function returning an ExternalCluster: a list of ExternalServer objects
(one per address given) whose ``address`` is an external server; the
harness gives its clients all of them (``",".join(s.address ...)``).  Everything the harness
needs (``address``, ``running``, ``start``/``terminate``/``get_logs``) is
provided; operations that would stop or start server processes raise, and the
tests that use them are excluded (see excluded.txt / EXCLUDED.md).

Each test still gets its own chroot (``/kazootests<uuid>``), created by
``KazooTestHarness.setup_zookeeper``.

Tests listed in ``excluded.txt`` (next to this file, or ``--excluded-file``)
are deselected.  An entry is a pytest node id relative to the kazoo sdist
root; an entry matches the node itself and everything below it
(``file.py`` -> all its tests, ``file.py::Class`` -> all its methods).
"""

import os
import sys
import types

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


def _stub_module(name, reason):
    """Install an importable placeholder for an optional dependency that
    kazoo.testing.common imports at module level but which is only used for
    TLS certificate generation (TLS tests are excluded)."""
    mod = types.ModuleType(name)

    def __getattr__(attr):  # PEP 562
        raise ImportError("%s is stubbed by external_cluster.py: %s"
                          % (name, reason))

    mod.__getattr__ = __getattr__
    sys.modules[name] = mod


for _mod in ("OpenSSL", "jks"):
    try:
        __import__(_mod)
    except Exception:  # pragma: no cover - depends on the venv
        _stub_module(_mod, "not installed")


class ExternalServer(object):
    """Stands in for kazoo.testing.common.ManagedZooKeeper."""

    def __init__(self, host, port):
        self.host = host
        self.port = int(port)

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def secure_address(self):
        raise RuntimeError("external server: no TLS port")

    @property
    def running(self):
        return True

    @property
    def client_port(self):
        return self.port

    def run(self):
        raise RuntimeError("external server cannot be (re)started by tests")

    def stop(self):
        raise RuntimeError("external server cannot be stopped by tests")

    def reset(self):
        pass

    def destroy(self):
        pass

    def get_logs(self, num_lines=100):
        return []


class ExternalCluster(object):
    """Stands in for kazoo.testing.common.ZookeeperCluster."""

    def __init__(self, addr):
        self._servers = []
        for one in addr.split(","):
            host, _, port = one.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("bad external address %r (want host:port"
                                 "[,host:port...])" % addr)
            self._servers.append(ExternalServer(host, port))

    def __getitem__(self, k):
        return self._servers[k]

    def __iter__(self):
        return iter(self._servers)

    def __len__(self):
        return len(self._servers)

    def start(self):
        pass

    def stop(self):
        pass

    def terminate(self):
        pass

    def reset(self):
        pass

    def get_logs(self):
        return []

    def get_ssl_client_configuration(self):
        raise RuntimeError("external server: TLS not configured")


_CLUSTER = None


def _get_external_cluster():
    return _CLUSTER


def pytest_addoption(parser):
    group = parser.getgroup("external_cluster")
    group.addoption("--external-addr", default=None,
                    help="host:port[,host:port...] of the external "
                         "ZooKeeper-compatible server(s) "
                         "(default: $KAZOO_EXTERNAL_ADDR)")
    group.addoption("--excluded-file",
                    default=os.path.join(_HERE, "excluded.txt"),
                    help="file listing excluded node ids")


def _read_excluded(path):
    entries = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                entries.append(line)
    return entries


def pytest_configure(config):
    global _CLUSTER
    addr = config.getoption("--external-addr") or os.environ.get(
        "KAZOO_EXTERNAL_ADDR")
    if not addr:
        raise pytest.UsageError(
            "external_cluster: set KAZOO_EXTERNAL_ADDR or --external-addr")
    _CLUSTER = ExternalCluster(addr)

    import kazoo.testing.harness as harness

    harness.get_global_cluster = _get_external_cluster
    harness.CLUSTER = _CLUSTER
    config._external_excluded = _read_excluded(
        config.getoption("--excluded-file"))
    config._external_excluded_used = set()


def _matches(nodeid, entry):
    return nodeid == entry or nodeid.startswith(entry + "::")


def pytest_collection_modifyitems(session, config, items):
    entries = config._external_excluded
    keep, drop = [], []
    for item in items:
        hit = [e for e in entries if _matches(item.nodeid, e)]
        if hit:
            drop.append(item)
            config._external_excluded_used.update(hit)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    return "external_cluster: server(s) %s, %d exclusion entries" % (
        ",".join(s.address for s in _CLUSTER), len(config._external_excluded))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    unused = [e for e in config._external_excluded
              if e not in config._external_excluded_used]
    if unused:
        terminalreporter.write_line(
            "external_cluster: exclusion entries matching no collected test "
            "(fine if only part of the suite was selected): %s"
            % ", ".join(unused))

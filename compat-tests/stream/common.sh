# shellcheck shell=bash
# compat-tests/stream/common.sh - shared by compat-tests/stream/run.sh and bench/stream.sh:
# Flink 2.3.0 (compat-tests/flink/fetch.sh), the job FlinkStreamBench.java compiled into
# $COMPAT_WORK/stream-classes/, how to run it and `ferrokeeper stream bench`, JSON parsing.
#
#   source compat-tests/stream/common.sh
#   fetch_flink && compile_stream_job
#   flink_stream ARGS...        # java ... FlinkStreamBench ARGS (local MiniCluster); FLINK_CMD
#   fk_stream ARGS...           # $FERROKEEPER_BIN stream bench ARGS
# Both run under `timeout $STREAM_TIMEOUT` (600 s by default).
#   json_fields FILE KEY...     # the last JSON line of FILE: the KEYs' values, space-separated
STREAM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$STREAM_DIR/../lib.sh" # COMPAT_WORK, REPO_ROOT, FERROKEEPER_BIN
# shellcheck source=../flink/fetch.sh
source "$STREAM_DIR/../flink/fetch.sh" # FLINK_VERSION, FLINK_HOME, fetch_flink

STREAM_CLASSES="$COMPAT_WORK/stream-classes"
STREAM_JAR="$STREAM_CLASSES/flink-stream-bench.jar"
FLINK_XMX="${FLINK_XMX:-1g}"
STREAM_TIMEOUT="${STREAM_TIMEOUT:-600}"

compile_stream_job() {
    local src="$STREAM_DIR/FlinkStreamBench.java"
    if [ ! -f "$STREAM_JAR" ] || [ "$src" -nt "$STREAM_JAR" ]; then
        rm -rf "$STREAM_CLASSES"
        mkdir -p "$STREAM_CLASSES/c"
        javac -nowarn -d "$STREAM_CLASSES/c" -cp "$FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar" "$src" 2>&1 | grep -v '^Note:'
        (cd "$STREAM_CLASSES/c" && jar cfe "$STREAM_JAR" FlinkStreamBench ./*.class) || return 1
    fi
    set_flink_cmd
    [ -f "$STREAM_JAR" ]
}

# The JVM options Flink's own scripts pass (--add-opens/--add-exports for Java 17), from its config.yaml.
flink_jvm_opts() { sed -n 's/^ *all: //p' "$FLINK_HOME/conf/config.yaml" | head -1; }

# FLINK_CMD: the command line of the job (add its ARGS; set by compile_stream_job, after
# fetch_flink); flink_stream ARGS... runs it in a local MiniCluster, its JSON line on stdout,
# errors on stderr.
set_flink_cmd() {
    # Flink's MiniCluster unpacks a 23 MB flink-rpc-akka jar into java.io.tmpdir at every
    # start and leaves it there: keep them in the work dir, emptied here.
    FLINK_TMP="$COMPAT_WORK/stream-flink-tmp"
    rm -rf "$FLINK_TMP" && mkdir -p "$FLINK_TMP"
    # shellcheck disable=SC2046
    FLINK_CMD=(java -Xmx"$FLINK_XMX" -Djava.io.tmpdir="$FLINK_TMP" $(flink_jvm_opts 2>/dev/null) -Dlog4j.configurationFile="$STREAM_DIR/log4j2.properties"
        -cp "$STREAM_JAR:$FLINK_HOME/lib/*" FlinkStreamBench)
}
flink_stream() { timeout "$STREAM_TIMEOUT" "${FLINK_CMD[@]}" "$@"; }

fk_stream() { timeout "$STREAM_TIMEOUT" "$FERROKEEPER_BIN" stream bench "$@"; }

# json_fields FILE KEY... : the last line of FILE that parses as a JSON object, the KEYs' values
# space-separated ("-" for a missing key); fails when there is no such line.
json_fields() {
    python3 - "$@" <<'PY'
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
d = None
try:
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("{"):
            try:
                o = json.loads(line)
                if isinstance(o, dict):
                    d = o
            except ValueError:
                pass
except OSError:
    pass
if d is None:
    sys.exit(1)
print(" ".join(str(d.get(k, "-")) for k in keys))
PY
}

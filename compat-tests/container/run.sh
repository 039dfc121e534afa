#!/usr/bin/env bash
# compat-tests/container/run.sh - builds docker/Dockerfile and runs the image without a Docker
# engine or a registry: Debian's podman (buildah, runc, CNI) and podman-compose.
#
#   compat-tests/container/run.sh
#
# 1. Installs podman, buildah, runc, debootstrap, podman-compose and catatonit with apt-get if
#    one is missing, and points podman at a configuration of its own (CONTAINERS_CONF,
#    CONTAINERS_STORAGE_CONF): runc, cgroupfs, ulimits the machine allows, file events, CNI,
#    storage under $FK_PODMAN_DIR (/var/tmp/ferrokeeper-podman) so it is a cache between runs.
# 2. Base images, made here and kept: the runtime base is `debootstrap --variant=minbase
#    bookworm` (from the mirror apt uses) `podman import`ed; the builder is that plus gcc/g++,
#    clang/libclang-dev and this machine's Rust toolchain at the paths it has here
#    (builder.Containerfile). The builder's tag hashes the toolchain, so a new rustc makes a
#    new builder.
# 3. `podman build --format docker` (keeps the HEALTHCHECK) of docker/Dockerfile with those
#    images as BUILDER_IMAGE / RUNTIME_IMAGE. The host's cargo target directory
#    ($CARGO_TARGET_DIR, built by scripts/test.sh before this runs) and cargo registry are
#    mounted into the build at their own paths as overlays (writes are thrown away), so
#    cargo's fingerprints match and only the ferrokeeper crate is compiled (the Dockerfile
#    touches its sources so it always is): RocksDB is not built a second time (checked).
#    Without a target directory the build is a full one.
# 4. Runs the image with a published loopback port: ruok, a create and a get through the port
#    (the host's `ferrokeeper cli`), the data surviving a restart, `podman healthcheck run`,
#    the HEALTHCHECK in the image config. Then docker/compose.yml comes up with
#    podman-compose on another port (FERROKEEPER_IMAGE / FERROKEEPER_PORT) and answers ruok.
# Everything it starts is removed at exit. Every step has a timeout.
# Last lines: "container: PASS|FAIL ..." and "N passed, M failed"; the exit status is 1 on
# any failure.
#
# Environment: FK_PODMAN_DIR, CARGO_TARGET_DIR (/var/tmp/ferrokeeper-target if it exists,
# else target/), FERROKEEPER_BIN, FK_DEBIAN_MIRROR, CONTAINER_BUILD_TIMEOUT (seconds; 900 with
# a target directory to reuse, 3600 without).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT" || exit 1

PODMAN_DIR="${FK_PODMAN_DIR:-/var/tmp/ferrokeeper-podman}"
RUN_DIR="/run/$(basename "$PODMAN_DIR")"   # podman's runroot and tmp_dir: state, not cache
WORK="$ROOT/compat-tests/work/container"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /var/tmp/ferrokeeper-target/release ]; then CARGO_TARGET_DIR=/var/tmp/ferrokeeper-target
    else CARGO_TARGET_DIR="$ROOT/target"; fi
fi
FERROKEEPER_BIN="${FERROKEEPER_BIN:-$CARGO_TARGET_DIR/release/ferrokeeper}"
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"

BASE_IMAGE="localhost/ferrokeeper-ci/bookworm-minbase:latest"
BUILDER_REPO="localhost/ferrokeeper-ci/builder"
IMAGE="localhost/ferrokeeper:ci"
CTR="ferrokeeper-ci-run"
PROJECT="ferrokeeper-ci"

PASSED=0
FAILED=0
T0=$SECONDS
TIMES=()
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }
check() { # NAME COMMAND... : the command's status decides
    local name="$1"; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
log() { printf '[container %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
finish() {
    local verdict=PASS
    [ "$FAILED" -eq 0 ] || verdict=FAIL
    local times=""
    [ ${#TIMES[@]} -eq 0 ] || times="$(printf '%s, ' "${TIMES[@]}")"
    echo "container: $verdict ($PASSED passed, $FAILED failed; ${times}total $((SECONDS - T0))s)"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}
abort() { fail "$1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -30 "$2" | sed 's/^/    | /'; finish; }

mkdir -p "$WORK"
rm -f "$WORK"/*.log

# ---------------------------------------------------------------- 1. packages, configuration
pkgs=()
for p in podman buildah runc debootstrap podman-compose catatonit; do
    dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # No recommends: they would bring netavark, fuse-overlayfs, slirp4netns, criu, none needed.
    timeout 600 apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$WORK/apt.log" 2>&1 ||
        { timeout 300 apt-get update -qq >>"$WORK/apt.log" 2>&1 &&
          timeout 600 apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >>"$WORK/apt.log" 2>&1; } ||
        abort "setup: apt-get install ${pkgs[*]}" "$WORK/apt.log"
fi

# overlayfs: for podman's storage, and for the build's ":O" volumes (the host's target dir).
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || abort "setup: the kernel has no overlayfs"
mkdir -p "$PODMAN_DIR/conf" "$PODMAN_DIR/cni" "$RUN_DIR"
cat >"$PODMAN_DIR/conf/containers.conf" <<EOF
# Written by compat-tests/container/run.sh.
[containers]
# podman asks for nofile 1048576 by default, above this machine's hard limit (20000).
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"
init_path = "/usr/bin/catatonit"

[network]
network_backend = "cni"
network_config_dir = "$PODMAN_DIR/cni"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUN_DIR/libpod"
EOF
cat >"$PODMAN_DIR/conf/storage.conf" <<EOF
# Written by compat-tests/container/run.sh.
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$RUN_DIR/storage"
EOF
export CONTAINERS_CONF="$PODMAN_DIR/conf/containers.conf"
export CONTAINERS_STORAGE_CONF="$PODMAN_DIR/conf/storage.conf"

# pq SECONDS ARGS...: podman with a timeout. Without systemd podman logs "unable to get
# systemd connection" for every health check timer; those lines are dropped.
pq() { local t="$1"; shift; timeout "$t" podman "$@" 2> >(grep -v 'systemd connection' >&2); }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    timeout 30 podman rm -f -v -t 5 "$CTR" >/dev/null 2>&1
    if [ -n "${COMPOSE_UP:-}" ]; then
        (cd docker && timeout 60 podman-compose -p "$PROJECT" -f compose.yml down -v -t 5) >>"$WORK/compose.log" 2>&1
    fi
    timeout 30 podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
    # Dangling images: the previous :ci image and the build stages of this run.
    timeout 120 podman image prune -f >/dev/null 2>&1
    if [ -n "${STAGE:-}" ]; then rm -rf "$STAGE"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

timeout 60 podman info >"$WORK/podman-info.log" 2>&1 || abort "setup: podman info" "$WORK/podman-info.log"
log "podman $(podman --version | awk '{print $3}'), storage in $PODMAN_DIR"

# ---------------------------------------------------------------- 2. base images
t=$SECONDS
if ! pq 60 image exists "$BASE_IMAGE"; then
    mirror="${FK_DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -E '^[[:space:]]*(deb|URIs:)' |
        grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -1)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    log "debootstrap --variant=minbase bookworm from $mirror"
    STAGE="$PODMAN_DIR/stage.$$"
    rm -rf "$PODMAN_DIR"/stage.*
    mkdir -p "$STAGE"
    timeout 900 debootstrap --variant=minbase bookworm "$STAGE/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        abort "base image: debootstrap" "$WORK/debootstrap.log"
    rm -rf "$STAGE"/rootfs/var/cache/apt/archives/*.deb "$STAGE"/rootfs/var/lib/apt/lists/*
    tar -C "$STAGE/rootfs" --numeric-owner -cf - . |
        timeout 300 podman import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' - "$BASE_IMAGE" >"$WORK/import.log" 2>&1 ||
        abort "base image: podman import" "$WORK/import.log"
    rm -rf "$STAGE"
    STAGE=""
fi

sysroot="$(rustc --print sysroot 2>/dev/null)"
toolchain="$(basename "$sysroot")"
if [ -z "$sysroot" ] || [ ! -x "$CARGO_HOME/bin/rustup" ] || [ ! -d "$RUSTUP_HOME/toolchains/$toolchain" ]; then
    abort "builder image: needs a rustup toolchain (rustc --print sysroot: '$sysroot')"
fi
key="$( { cat "$HERE/builder.Containerfile"; "$sysroot/bin/rustc" -vV; "$sysroot/bin/cargo" -V;
          echo "$toolchain $RUSTUP_HOME $CARGO_HOME"; pq 60 image inspect -f '{{.Id}}' "$BASE_IMAGE"; } |
        sha256sum | cut -c1-12)"
BUILDER_IMAGE="$BUILDER_REPO:$key"
if ! pq 60 image exists "$BUILDER_IMAGE"; then
    log "builder image $BUILDER_IMAGE ($toolchain)"
    STAGE="$PODMAN_DIR/stage.$$"
    rm -rf "$PODMAN_DIR"/stage.*
    mkdir -p "$STAGE/ctx/rustup/toolchains" "$STAGE/ctx/cargo-bin"
    # Hard links where possible: the context is the toolchain without its HTML docs.
    cp -al "$RUSTUP_HOME/toolchains/$toolchain" "$STAGE/ctx/rustup/toolchains/" 2>/dev/null ||
        cp -a "$RUSTUP_HOME/toolchains/$toolchain" "$STAGE/ctx/rustup/toolchains/"
    rm -rf "$STAGE/ctx/rustup/toolchains/$toolchain/share/doc"
    cp "$RUSTUP_HOME/settings.toml" "$STAGE/ctx/rustup/"
    cp "$CARGO_HOME/bin/rustup" "$STAGE/ctx/cargo-bin/"
    for p in cargo rustc rustdoc rustfmt cargo-fmt; do ln -s rustup "$STAGE/ctx/cargo-bin/$p"; done
    timeout 1200 podman build --format docker -f "$HERE/builder.Containerfile" \
        --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg RUSTUP_HOME="$RUSTUP_HOME" \
        --build-arg CARGO_HOME="$CARGO_HOME" --build-arg RUSTUP_TOOLCHAIN="$toolchain" \
        -t "$BUILDER_IMAGE" "$STAGE/ctx" >"$WORK/builder.log" 2>&1 ||
        abort "builder image: podman build" "$WORK/builder.log"
    rm -rf "$STAGE"
    STAGE=""
    # Builders for other toolchains are of no more use.
    pq 60 images --format '{{.Repository}}:{{.Tag}}' | grep "^$BUILDER_REPO:" | grep -v ":$key\$" |
        xargs -r timeout 120 podman rmi -f >/dev/null 2>&1
fi
TIMES+=("base images $((SECONDS - t))s")

# ---------------------------------------------------------------- 3. the image
t=$SECONDS
build_args=(--format docker -f docker/Dockerfile -t "$IMAGE"
    --build-arg BUILDER_IMAGE="$BUILDER_IMAGE" --build-arg RUNTIME_IMAGE="$BASE_IMAGE")
cached=0
if [ -d "$CARGO_TARGET_DIR/release" ] && [ -d "$CARGO_HOME/registry" ]; then
    cached=1
    build_args+=(--build-arg CARGO_TARGET_DIR="$CARGO_TARGET_DIR"
        --volume "$CARGO_TARGET_DIR:$CARGO_TARGET_DIR:O"
        --volume "$CARGO_HOME/registry:$CARGO_HOME/registry:O")
    build_timeout="${CONTAINER_BUILD_TIMEOUT:-900}"
    log "podman build docker/Dockerfile, reusing $CARGO_TARGET_DIR"
else
    build_timeout="${CONTAINER_BUILD_TIMEOUT:-3600}"
    log "podman build docker/Dockerfile: no $CARGO_TARGET_DIR/release to reuse, a full build"
fi
if timeout "$build_timeout" podman build "${build_args[@]}" . >"$WORK/build.log" 2>&1; then
    pass "podman build --format docker docker/Dockerfile ($((SECONDS - t))s)"
else
    abort "podman build docker/Dockerfile (see $WORK/build.log)" "$WORK/build.log"
fi
TIMES+=("image build $((SECONDS - t))s")
compiled="$(grep -oE '^ *Compiling [^ ]+' "$WORK/build.log" | awk '{print $2}' | sort -u | tr '\n' ' ')"
log "compiled in the build: ${compiled:-nothing}"
check "the build compiled the ferrokeeper crate" grep -qE '^ *Compiling ferrokeeper ' "$WORK/build.log"
if [ "$cached" = 1 ]; then
    if grep -qE '^ *Compiling librocksdb-sys ' "$WORK/build.log"; then
        fail "the build reused the host's RocksDB build (it compiled librocksdb-sys)"
    else
        pass "the build reused the host's RocksDB build (librocksdb-sys not compiled)"
    fi
fi
check "the image config keeps the HEALTHCHECK" \
    bash -c "timeout 60 podman image inspect -f '{{json .HealthCheck}}' '$IMAGE' | grep -q ruok"
size="$(pq 60 image inspect -f '{{.Size}}' "$IMAGE")"
log "image $IMAGE: $((size / 1000000)) MB"

# ---------------------------------------------------------------- 4. run it
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
four_lw() { # PORT CMD
    ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; printf '%s' "$2" >&3; timeout 3 cat <&3 ) 2>/dev/null
}
wait_imok() { # PORT SECONDS
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(four_lw "$1" ruok)" = imok ] && return 0
        sleep 0.3
    done
    return 1
}
fkcli() { timeout 30 "$FERROKEEPER_BIN" cli -server "127.0.0.1:$1" "${@:2}" 2>&1; }

t=$SECONDS
port="$(free_port)"
timeout 30 podman rm -f -v "$CTR" >/dev/null 2>&1
# --init: the server has no SIGTERM handler, and as PID 1 it would ignore podman stop's signal.
if ! pq 60 run -d --init --name "$CTR" -p "127.0.0.1:$port:2181" "$IMAGE" >"$WORK/run.log"; then
    abort "podman run -p 127.0.0.1:$port:2181" "$WORK/run.log"
fi
if wait_imok "$port" 60; then
    pass "podman run -p 127.0.0.1:$port:2181: ruok -> imok"
else
    timeout 10 podman logs "$CTR" >"$WORK/server.log" 2>&1
    abort "podman run -p 127.0.0.1:$port:2181: no imok within 60s" "$WORK/server.log"
fi
if [ -x "$FERROKEEPER_BIN" ]; then
    out="$(fkcli "$port" create /container-check "hello from the host")"
    check "create /container-check through the published port" grep -q 'Created /container-check' <<<"$out"
    out="$(fkcli "$port" get /container-check)"
    check "get /container-check through the published port" grep -qx 'hello from the host' <<<"$out"
    pq 60 restart -t 10 "$CTR" >/dev/null
    if wait_imok "$port" 60; then
        out="$(fkcli "$port" get /container-check)"
        check "the znode survives podman restart (/data volume)" grep -qx 'hello from the host' <<<"$out"
    else
        fail "imok after podman restart"
    fi
else
    fail "create/get: no Ferrokeeper binary at $FERROKEEPER_BIN for the client"
fi
check "podman healthcheck run: healthy" bash -c \
    "timeout 30 podman healthcheck run '$CTR' >'$WORK/healthcheck.log' 2>&1 &&
     [ \"\$(timeout 60 podman inspect -f '{{.State.Health.Status}}' '$CTR')\" = healthy ]"
timeout 10 podman logs "$CTR" >"$WORK/server.log" 2>&1
timeout 30 podman rm -f -v -t 10 "$CTR" >/dev/null 2>&1
TIMES+=("run $((SECONDS - t))s")

# ---------------------------------------------------------------- 5. compose
t=$SECONDS
cport="$(free_port)"
export FERROKEEPER_IMAGE="$IMAGE" FERROKEEPER_PORT="$cport"
export BUILDER_IMAGE RUNTIME_IMAGE="$BASE_IMAGE"
COMPOSE_UP=1
if (cd docker && timeout 120 podman-compose -p "$PROJECT" -f compose.yml up -d) >"$WORK/compose.log" 2>&1 &&
    wait_imok "$cport" 60; then
    pass "podman-compose up (docker/compose.yml, port $cport): ruok -> imok"
    if [ -x "$FERROKEEPER_BIN" ]; then
        out="$(fkcli "$cport" create /compose-check yes; fkcli "$cport" get /compose-check)"
        check "create and get through the compose service" grep -qx yes <<<"$out"
    fi
    check "podman healthcheck run on the compose service: healthy" bash -c \
        "timeout 30 podman healthcheck run '${PROJECT}_ferrokeeper_1' >>'$WORK/healthcheck.log' 2>&1"
else
    fail "podman-compose up (docker/compose.yml, port $cport)"
    tail -20 "$WORK/compose.log" | sed 's/^/    | /'
fi
if (cd docker && timeout 60 podman-compose -p "$PROJECT" -f compose.yml down -v -t 10) >>"$WORK/compose.log" 2>&1 &&
    [ -z "$(pq 60 ps -a -q --filter "label=io.podman.compose.project=$PROJECT")" ]; then
    pass "podman-compose down"
    COMPOSE_UP=""
else
    fail "podman-compose down"
fi
TIMES+=("compose $((SECONDS - t))s")

finish

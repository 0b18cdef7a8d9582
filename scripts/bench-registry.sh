#!/usr/bin/env bash
# Registry benchmark: builder push/pull against skopeo copy, on a local docker-registry
# (127.0.0.1, a free port, filesystem storage in a temp dir).
#
#   scripts/bench-registry.sh            # busybox fixture + the 200 MB bench case-a image
#   RUNS=3 SKIP_BIG=1 scripts/bench-registry.sh
#   BUILDER=target/debug/builder scripts/bench-registry.sh
#   DEBIAN_ROOTFS=/var/tmp/rootfs scripts/bench-registry.sh   # also the Debian base image
#     (make the rootfs once, as root: debootstrap --variant=minbase bookworm /var/tmp/rootfs)
#
# Images:
#   busybox  the fixture of scripts/make-busybox-image.sh (umoci; one ~1 MB layer)
#   case-a   busybox + one layer holding ../shared/bench/cases/a's 200 MB / 20k-file context
#            (generated into a temp dir by a copy of gen-context.py), made with umoci
#   debian   a debootstrap'd Debian (minbase) as one layer, made with umoci (DEBIAN_ROOTFS)
# Each is loaded into a fresh builder store from an oci-archive (`builder load`), so the store
# knows no source repository and a push uploads every blob.
# push: builder push IMAGE 127.0.0.1:P/b-N/IMAGE   vs  skopeo copy oci:LAYOUT docker://127.0.0.1:P/s-N/IMAGE
# pull: builder pull 127.0.0.1:P/seed/IMAGE (fresh store each run)
#       vs skopeo copy docker://127.0.0.1:P/seed/IMAGE oci:FRESH_DIR:t
# Every run pushes to a new repository (nothing to skip) and pulls into an empty destination.
# Prints the median wall time of RUNS runs and the ratio builder/skopeo (< 1: builder faster).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
for t in docker-registry skopeo umoci python3 busybox; do
  command -v "$t" >/dev/null || { echo "bench-registry: needs $t (scripts/setup.sh)" >&2; exit 1; }
done
if [ -z "${BUILDER:-}" ]; then
  cargo build --release --quiet
  BUILDER=$PWD/target/release/builder
fi

work=$(mktemp -d)
stop_registry() {
  [ -f "$work/registry.pid" ] || return 0
  kill "$(cat "$work/registry.pid")" 2>/dev/null || true
  rm -f "$work/registry.pid"
  for _ in $(seq 100); do curl -s "http://$R/v2/" >/dev/null 2>&1 || return 0; sleep 0.05; done
}
cleanup() { stop_registry; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
R=127.0.0.1:$port
cat > "$work/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $R
YAML
# start_registry: (re)start the registry on $R with empty storage.
start_registry() {
  stop_registry
  rm -rf "$work/registry"
  docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
  echo $! > "$work/registry.pid"
  for _ in $(seq 100); do curl -fs "http://$R/v2/" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "bench-registry: docker-registry did not start" >&2; exit 1
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_runs CMD [PREP]: run PREP (untimed) then CMD (with $i = run number) RUNS times; print
# the median seconds.
time_runs() {
  local i t0 t1 times=()
  for i in $(seq "$RUNS"); do
    export i
    [ -n "${2:-}" ] && eval "$2"
    t0=$(now); bash -c "$1" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | median
}

# bench IMAGE LAYOUT TAG
bench() {
  local name=$1 layout=$2 tag=$3 store=$work/store-$1
  skopeo copy --quiet "oci:$layout:$tag" "oci-archive:$work/$name.tar:$name:1"
  "$BUILDER" --root "$store" load -q -i "$work/$name.tar"
  local size
  size=$(du -sb "$layout/blobs" | cut -f1)
  local bp sp bl sl
  # Pushes go to an empty registry each time (restarted, untimed), so every blob is uploaded:
  # neither tool can skip or mount anything it saw in an earlier run.
  bp=$(time_runs "'$BUILDER' --root '$store' push -q $name:1 $R/b-\$i/$name:1" \
        "start_registry; rm -f '$store/blob-sources.json'")
  sp=$(time_runs "skopeo copy --quiet --dest-tls-verify=false oci:$layout:$tag docker://$R/s-\$i/$name:1" \
        start_registry)
  skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$tag" "docker://$R/seed/$name:1"
  bl=$(time_runs "rm -rf '$work/pull-store'; '$BUILDER' --root '$work/pull-store' pull -q $R/seed/$name:1")
  sl=$(time_runs "rm -rf '$work/pull-oci'; skopeo copy --quiet --src-tls-verify=false docker://$R/seed/$name:1 oci:$work/pull-oci:t")
  printf '%-8s %7.1f MB  push: builder %6.3fs  skopeo %6.3fs  ratio %.2f | pull: builder %6.3fs  skopeo %6.3fs  ratio %.2f\n' \
    "$name" "$(echo "$size/1000000" | bc -l)" "$bp" "$sp" "$(echo "$bp/$sp" | bc -l)" \
    "$bl" "$sl" "$(echo "$bl/$sl" | bc -l)"
}

start_registry
echo "registry benchmark: $RUNS runs each, median wall time; docker-registry at $R; $(nproc) cores"
bash scripts/make-busybox-image.sh "$work/busybox" >/dev/null
bench busybox "$work/busybox" latest

if [ -z "${SKIP_BIG:-}" ]; then
  src=../shared/bench/cases/a/gen-context.py
  [ -f "$src" ] || { echo "bench-registry: $src not found; skipping case-a" >&2; exit 0; }
  mkdir -p "$work/ctx"
  cp "$src" "$work/ctx/gen-context.py"
  python3 "$work/ctx/gen-context.py"
  cp -r "$work/busybox" "$work/case-a"
  rootless=(); [ "$(id -u)" -eq 0 ] || rootless=(--rootless)
  umoci unpack "${rootless[@]}" --image "$work/case-a:latest" "$work/bundle" >/dev/null
  cp -r "$work/ctx/data" "$work/bundle/rootfs/data"
  umoci repack --image "$work/case-a:latest" "$work/bundle" >/dev/null
  rm -rf "$work/bundle" "$work/ctx"
  RUNS=${RUNS_BIG:-3} bench case-a "$work/case-a" latest
fi

if [ -n "${DEBIAN_ROOTFS:-}" ]; then
  umoci init --layout "$work/debian"
  umoci new --image "$work/debian:bookworm"
  umoci unpack --image "$work/debian:bookworm" "$work/bundle" >/dev/null
  cp -a "$DEBIAN_ROOTFS/." "$work/bundle/rootfs/"
  umoci repack --image "$work/debian:bookworm" "$work/bundle" >/dev/null
  umoci config --image "$work/debian:bookworm" --os linux --architecture amd64 --config.cmd bash >/dev/null
  umoci gc --layout "$work/debian"
  rm -rf "$work/bundle"
  bench debian "$work/debian" bookworm
fi

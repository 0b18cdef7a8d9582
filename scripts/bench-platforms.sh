#!/usr/bin/env bash
# Two-platform benchmark: bench case c (../shared/bench/cases/c) built for
# linux/amd64,linux/arm64 by builder (`--platform a,b`) and by buildah (`--platform a,b
# --manifest`), in the same run, cold: a fresh store (and buildah storage) each time, the base
# pulled from a local docker-registry holding a two-platform busybox index. The arm64 RUN
# runs under QEMU (binfmt_misc, see README "RUN for another architecture") for both.
#
#   scripts/bench-platforms.sh                # 3 runs each, alternating
#   RUNS=1 BUILDER=target/debug/builder scripts/bench-platforms.sh
#
# Prints each run's wall time, the medians and the ratio builder/buildah (< 1: builder faster).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=${BENCH_SHARED:-$REPO/../shared/bench}
RUNS=${RUNS:-3}
for t in docker-registry skopeo umoci buildah python3; do
  command -v "$t" >/dev/null || { echo "bench-platforms: needs $t (scripts/setup.sh; apt-get install buildah)" >&2; exit 1; }
done
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
  { echo "bench-platforms: no arm64 emulator registered (scripts/setup.sh)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench-platforms: run as root (buildah's storage and runc)" >&2; exit 1; }
if [ -z "${BUILDER:-}" ]; then
  cargo build --release --quiet
  BUILDER=$REPO/target/release/builder
fi
BUILDER=$(realpath "$BUILDER")

work=$(mktemp -d /var/tmp/bench-platforms.XXXXXX)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; fi
  awk -v w="$work" '$2 ~ "^" w {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The registry, on a free port of 127.0.0.1.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$port
mkdir -p "$work/registry"
cat > "$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: $REG}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('http://$REG/v2/')" 2>/dev/null && break; sleep 0.1; done

# A two-platform busybox index as the base.
bash scripts/make-busybox-image.sh --arch amd64,arm64 "$work/busybox" >/dev/null
skopeo copy -q --all --dest-tls-verify=false "oci:$work/busybox:latest" "docker://$REG/busybox:latest"

# Case c with its FROM pointed at that base.
cp -a "$SHARED/cases/c" "$work/ctx"
sed -i "s#127.0.0.1:5000/busybox:latest#$REG/busybox:latest#" "$work/ctx/Dockerfile"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
PLATFORMS=linux/amd64,linux/arm64
b_times=() h_times=()
for i in $(seq "$RUNS"); do
  rm -rf "$work/b-store"; sync
  t0=$(now)
  "$BUILDER" --root "$work/b-store" build --progress plain --platform "$PLATFORMS" -t app \
    "$work/ctx" >"$work/builder-$i.log" 2>&1 || { tail -30 "$work/builder-$i.log"; exit 1; }
  t1=$(now)
  b_times+=("$(echo "$t1 - $t0" | bc)")
  rm -rf "$work/h-root" "$work/h-run"; sync
  t0=$(now)
  BUILDAH_RUNTIME=runc buildah --root "$work/h-root" --runroot "$work/h-run" --storage-driver overlay \
    build -q --platform "$PLATFORMS" --manifest app --tls-verify=false "$work/ctx" \
    >"$work/buildah-$i.log" 2>&1 || { tail -30 "$work/buildah-$i.log"; exit 1; }
  t1=$(now)
  h_times+=("$(echo "$t1 - $t0" | bc)")
  echo "run $i: builder ${b_times[-1]} s, buildah ${h_times[-1]} s"
done
bm=$(printf '%s\n' "${b_times[@]}" | median)
hm=$(printf '%s\n' "${h_times[@]}" | median)
echo "two-platform case c (linux/amd64,linux/arm64, cold, $RUNS runs, load $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  builder %.2f s   buildah %.2f s   ratio %.2f\n' "$bm" "$hm" "$(echo "$bm / $hm" | bc -l)"

#!/usr/bin/env bash
# Benchmark: `builder build` of ../shared/bench/cases/a (FROM busybox + COPY of a 200 MB,
# 20,000-file context into one layer + a RUN that deletes, modifies and adds files), timed
# against the floor `tar -c | gzip -6` of the same tree, and against `buildah build` of the
# same Dockerfile when buildah is installed (runc, overlay storage), in one run.
#
#   scripts/bench.sh              # one run of each, warm page cache
#   RUNS=3 scripts/bench.sh       # best of 3
#
# The context is generated under $BENCH_WORK (default /tmp/builder-bench-a) with the case's
# own gen-context.py (deterministic); the busybox base is the test fixture, given as
# --build-context busybox=oci-layout://... . Prints seconds and ratios to the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
case_dir=${BENCH_CASE_DIR:-../shared/bench/cases/a}
work=${BENCH_WORK:-/tmp/builder-bench-a}
runs=${RUNS:-1}
[ -f "$case_dir/gen-context.py" ] || { echo "bench: $case_dir/gen-context.py not found" >&2; exit 1; }

cargo build --release -q
bin=$PWD/target/release/builder
layout=$PWD/target/fixtures/busybox
scripts/make-busybox-image.sh "$layout"

mkdir -p "$work/ctx"
cp "$case_dir/gen-context.py" "$work/ctx/"
python3 "$work/ctx/gen-context.py"   # writes $work/ctx/data once
# The case's Dockerfile, its base image being the local busybox fixture.
sed 's#^FROM .*#FROM busybox#' "$case_dir/Dockerfile" > "$work/ctx/Dockerfile"
echo "== Dockerfile"; cat "$work/ctx/Dockerfile"
size=$(du -sb "$work/ctx/data" | cut -f1); files=$(find "$work/ctx/data" -type f | wc -l)
echo "== context: $files files, $size bytes"
tar -C "$work/ctx" -cf - data | cat >/dev/null   # warm the page cache

# best SECONDS of $runs runs of "$@" (after an optional preparation in $prep)
best() {
  local b="" s e t
  for _ in $(seq "$runs"); do
    [ -n "${prep:-}" ] && eval "$prep"
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; "$@" >&2; exit 1; }; e=$(date +%s%N)
    t=$(( (e - s) / 1000000 ))
    if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
  done
  printf '%d.%03d' $((b / 1000)) $((b % 1000))
}

declare -A secs
floor() { tar -C "$work/ctx" -cf - data | gzip -6 >/dev/null; }
secs[floor]=$(prep="" best floor)
ctxarg="busybox=oci-layout://$layout"
# cold: a fresh store (busybox is imported and its layer unpacked before the COPY)
secs[cold]=$(prep="rm -rf '$work/store'" best "$bin" --root "$work/store" build --progress quiet \
  --build-context "$ctxarg" -t bench-a "$work/ctx")
# warm base: the store already holds busybox unpacked; the COPY and its layer are the work
secs[warm]=$(prep="" best "$bin" --root "$work/store" build --progress quiet \
  --build-context "$ctxarg" -t bench-a "$work/ctx")
# plus an OCI archive output
secs[oci]=$(prep="rm -f '$work/out.tar'" best "$bin" --root "$work/store" build --progress quiet \
  --build-context "$ctxarg" -t bench-a -o "type=oci,dest=$work/out.tar" "$work/ctx")
secs[zstd]=$(prep="" best "$bin" --root "$work/store" build --progress quiet \
  --build-context "$ctxarg" -t bench-a -o "type=oci,dest=$work/out-zstd.tar,compression=zstd" "$work/ctx")
if command -v buildah >/dev/null 2>&1; then
  sed "s#^FROM busybox#FROM oci:$layout:latest#" "$work/ctx/Dockerfile" > "$work/Dockerfile.buildah"
  secs[buildah]=$(prep="buildah --root '$work/buildah' rmi -af >/dev/null 2>&1 || true" best \
    env BUILDAH_RUNTIME=runc buildah --root "$work/buildah" --storage-driver overlay build -q -f "$work/Dockerfile.buildah" -t bench-a "$work/ctx")
fi

ratio() { awk -v a="$1" -v b="${secs[floor]}" 'BEGIN { printf "%.2fx", a / b }'; }
echo "== results (best of $runs, seconds; ratio to the floor)"
printf '%-52s %8s %8s\n' "floor: tar -c data | gzip -6" "${secs[floor]}" "1.00x"
printf '%-52s %8s %8s\n' "builder build, fresh store" "${secs[cold]}" "$(ratio "${secs[cold]}")"
printf '%-52s %8s %8s\n' "builder build, base already unpacked" "${secs[warm]}" "$(ratio "${secs[warm]}")"
printf '%-52s %8s %8s\n' "builder build -o type=oci (archive)" "${secs[oci]}" "$(ratio "${secs[oci]}")"
printf '%-52s %8s %8s\n' "builder build -o type=oci,compression=zstd" "${secs[zstd]}" "$(ratio "${secs[zstd]}")"
if [ -n "${secs[buildah]:-}" ]; then
  printf '%-52s %8s %8s\n' "buildah build" "${secs[buildah]}" "$(ratio "${secs[buildah]}")"
  awk -v a="${secs[cold]}" -v b="${secs[buildah]}" \
    'BEGIN { printf "builder (fresh store) / buildah: %.2fx\n", a / b }'
else
  echo "buildah: not installed, skipped"
fi

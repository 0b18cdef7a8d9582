#!/usr/bin/env bash
# Reproducibility check for refactors: builds the bench cases (../shared/bench/cases a and c)
# and examples/hello with each given builder binary, each in a fresh store seeded with the
# same busybox base image from a local registry, with SOURCE_DATE_EPOCH set, and prints the
# manifest digest of every image. A change that must not change behaviour leaves every digest
# equal. Then each binary builds again in the other binary's store: every step must be CACHED
# (same cache keys) and give the same digest. Case c reads /dev/urandom in a RUN, so its cold
# digest is also taken on a copy where that source is /dev/zero and its tar of /src (which
# records when COPY made the directory) a plain concatenation (`c0`).
#
#   scripts/digests.sh target/release/builder /tmp/builder-before
#
# State is kept in $DIGESTS_STATE (default /var/tmp/builder-digests); only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=${BENCH_SHARED:-$REPO/../shared/bench}
STATE=${DIGESTS_STATE:-/var/tmp/builder-digests}
RUN=$STATE/run
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"
[ $# -ge 1 ] || die "usage: scripts/digests.sh BUILDER [BUILDER...]"
bins=()
for b in "$@"; do
  [ -x "$b" ] || die "$b is not an executable"
  bins+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")")
done
wipe "$RUN"
mkdir -p "$RUN/results" "$STATE/ctx"
RES=$RUN/results
trap 'stop_registry' EXIT

CTX=$STATE/ctx
for c in a c; do
  mkdir -p "$CTX/$c"
  (cd "$SHARED/cases/$c" && find . -path ./data -prune -o -type f -print0 |
    xargs -0 -I{} cp --parents -f {} "$CTX/$c/")
done
[ -f "$CTX/a.generated" ] || { python3 "$CTX/a/gen-context.py" --force >/dev/null; touch "$CTX/a.generated"; }
rm -rf "$CTX/c0" && cp -a "$CTX/c" "$CTX/c0"
rm -rf "$CTX/hello" && cp -a examples/hello "$CTX/hello"

bash scripts/make-busybox-image.sh "$STATE/images/busybox" >/dev/null
start_registry
push_image busybox latest
for c in a c c0 hello; do
  f=$CTX/$c/Dockerfile
  # c0: case c without its two sources of variation (random bytes, and a tar of /src that
  # records the time COPY made the directory).
  [ "$c" = c0 ] && sed -i 's#/dev/urandom#/dev/zero#; s#tar -C /src -cf /out/src.tar .#cat /src/* > /out/src.tar#' "$f"
  sed -i -E "s#^(FROM[[:space:]]+)127\.0\.0\.1:5000/#\1$REG/#I" "$f"
done

# digest BIN STORE CASE: build and print the manifest digest of the image.
digest() {
  local log=$RES/$(basename "$1")-$3-$RANDOM.log
  SOURCE_DATE_EPOCH=1700000000 "$1" --root "$2" build --progress plain \
    --build-arg SOURCE_DATE_EPOCH=1700000000 --build-arg "BASE=$REG/busybox:latest" -t "digests-$3" -o "type=oci,dest=$log.tar,rewrite-timestamp=true" --iidfile "$log.iid" "$CTX/$3" >"$log" 2>&1 ||
    fail_log "build $3 with $1" "$log"
  echo "$(cat "$log.iid") $(grep -cE '^#[0-9]+ CACHED' "$log" || true)"
}

declare -A got
for i in "${!bins[@]}"; do
  store=$RUN/store-$i
  "${bins[$i]}" --root "$store" pull -q "$REG/busybox:latest" >/dev/null
  for c in a c c0 hello; do
    read -r d _ < <(digest "${bins[$i]}" "$store" "$c")
    got[$i.$c]=$d
    printf '%-40s %-6s cold  %s\n' "${bins[$i]}" "$c" "$d"
  done
done
status=0
for c in a c0 hello; do
  for i in "${!bins[@]}"; do
    [ "${got[$i.$c]}" = "${got[0.$c]}" ] || { echo "DIFFERENT: case $c cold" >&2; status=1; }
  done
done
# Each binary in the first binary's store: as many steps cached as in the first binary's own
# no-op rebuild, and the same digest.
for c in a c c0 hello; do
  read -r _ want < <(digest "${bins[0]}" "$RUN/store-0" "$c")
  for i in "${!bins[@]}"; do
    [ "$i" = 0 ] && continue
    read -r d cached < <(digest "${bins[$i]}" "$RUN/store-0" "$c")
    printf '%-40s %-6s in store-0: %s (%s of %s steps cached)\n' "${bins[$i]}" "$c" "$d" "$cached" "$want"
    [ "$d" = "${got[0.$c]}" ] && [ "$cached" = "$want" ] || { echo "DIFFERENT: case $c in the first store" >&2; status=1; }
  done
done
[ "$status" = 0 ] && echo "digests: all equal"
exit "$status"

#!/usr/bin/env bash
# Benchmark: builder against buildah and `docker build` on the bench cases of
# ../shared/bench/cases, in one run, plus the layer pipeline, the export to a docker-archive
# and builder's peak memory. Documented in docs/benchmarks.md.
#
#   scripts/bench.sh                     # full size, 3 runs each, peers that are present
#   scripts/bench.sh --short             # CI mode: small contexts, 1 run each (a few minutes)
#   scripts/bench.sh --cases "a c" --runs 5 --json target/bench.json
#   scripts/bench.sh --no-peers          # builder only (recorded peer numbers where comparable)
#   scripts/bench.sh --dockerd           # start a private dockerd when none answers (root)
#   BUILDER=target/debug/builder scripts/bench.sh --short   # no release build
#   scripts/bench.sh --settle 65         # sync and wait 65 s after each cold reset (see below)
#   scripts/bench.sh --baseline /tmp/builder-old   # also time another builder binary (before/after)
#
# Cases (the Dockerfiles of ../shared/bench/cases, their FROM pointed at a local registry):
#   a  busybox + COPY of 20,000 files / 204.8 MB + a RUN that deletes, modifies and adds files
#   b  Debian (debootstrap minbase) + apt-get install jq + COPY app.conf + RUN (needs root,
#      debootstrap and the Debian mirror; skipped with a message otherwise)
#   c  multi-stage: COPY src/, a RUN making 2,000 files and 20 MB, COPY --from into a second stage
#   fleet  CI runners sharing a registry cache: cases c and a built cold on "runner 2" with
#      --cache-from after "runner 1" pushed their cache (mode=max) to the local registry,
#      against the same cold build without a cache; the ratio, and the bytes runner 2 pulled
#      (the blobs its store gained). With a private dockerd (--dockerd), BuildKit's
#      inline-cache import (BUILDKIT_INLINE_CACHE=1, docker build --cache-from) is timed the
#      same way. In the default cases; --cases "a c" leaves it out, --cases fleet runs it alone.
# Modes, as ../shared/bench/peers.sh defines them:
#   cold  no build cache, the base image already present (a fresh copy of a store holding it)
#   warm  the identical build again (a no-op rebuild)
#   chg   one small context file rewritten before each run (a: data/d050/f0100, b: app.conf,
#         c: src/file01.txt), so its COPY and everything after it run again
# Cold resets do not delete the previous store: builder's store and buildah's storage are
# moved aside and removed when the bench exits (BuildKit's cache is pruned by its dockerd,
# which deletes; its cold times show no penalty for it). On ext4 without a journal the kernel
# does not reuse an inode freed less than 60 s ago (6 min while its inode table block is
# dirty, which the next build's own new files make it) and scans past every such inode for
# each file it creates: a build creating 20,000 files right after 20,000 were deleted spent
# 4.5-6.8 s of system time there, timing the harness instead of the tool.
# --settle N syncs and waits N seconds after each tool's cold reset, so the writeback of the
# previous runs is over. (On this machine the kernel also reclaims page cache not touched
# for ~30 s, so after a settle every tool reads the context from disk.)
# --baseline BIN times a second builder binary (say, the release build of the previous commit)
# on the same cases in the same run, with a store of its own seeded from the same base images,
# and adds a column `baseline` with the ratio builder / baseline: a change's cost or gain
# measured under the same load as the new binary.
# Each time is the median of N runs (hyperfine when installed, else a shell loop). Ratios are
# builder / peer: below 1 builder is faster. Peers are buildah (BUILDAH_RUNTIME=runc, --layers,
# its own storage) when installed, and `docker build` (BuildKit) when a dockerd answers;
# otherwise the numbers recorded in ../shared/bench/results on this machine are shown and marked
# as recorded (full size only: they do not describe the small --short contexts).
#
# State (contexts, base images, the debootstrap'd rootfs) is kept in $BENCH_STATE (default
# /var/tmp/builder-bench-harness) and reused; stores, registry and outputs of a run are removed
# at exit. Nothing outside 127.0.0.1 is contacted except the Debian mirror for case b.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=${BENCH_SHARED:-$REPO/../shared/bench}
STATE=${BENCH_STATE:-/var/tmp/builder-bench-harness}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"
# shellcheck source=scripts/bench-report.sh
source "$REPO/scripts/bench-report.sh"
# shellcheck source=scripts/bench-fleet.sh
source "$REPO/scripts/bench-fleet.sh"

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  echo "Options: --short  --cases \"a b c\"  --runs N  --no-peers  --dockerd  --json FILE  --state DIR  --settle SECONDS  --baseline BIN"
}

short=0 runs="" cases="" peers=1 json="" want_dockerd=0 settle=0 BASELINE=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --cases) cases=${2:?--cases needs a list such as \"a c\"}; shift ;;
    --cases=*) cases=${1#*=} ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --no-peers) peers=0 ;;
    --dockerd) want_dockerd=1 ;;
    --json) json=${2:?--json needs a file}; shift ;;
    --json=*) json=${1#*=} ;;
    --settle) settle=${2:?--settle needs seconds}; shift ;;
    --settle=*) settle=${1#*=} ;;
    --baseline) BASELINE=${2:?--baseline needs a builder binary}; shift ;;
    --baseline=*) BASELINE=${1#*=} ;;
    --state) STATE=${2:?--state needs a directory}; shift ;;
    --state=*) STATE=${1#*=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$runs" ]; then runs=3; [ "$short" = 1 ] && runs=1; fi
case $runs in ''|*[!0-9]*|0) echo "bench: --runs wants a positive number, got $runs" >&2; exit 2 ;; esac
# --short leaves case b out unless asked for: it needs the Debian mirror inside a RUN.
if [ -z "$cases" ]; then cases="a b c fleet"; [ "$short" = 1 ] && cases="a c fleet"; fi
# fleet is not a context of its own: it builds the contexts of cases c and a (see
# scripts/bench-fleet.sh). ctx_cases are the contexts to make, cases the table's rows.
fleet=0
if [[ " $cases " == *" fleet "* ]]; then
  fleet=1
  cases=$(echo " $cases " | sed 's/ fleet / /g; s/^ *//; s/ *$//')
fi
ctx_cases=$cases
if [ "$fleet" = 1 ]; then
  for c in c a; do [[ " $ctx_cases " == *" $c "* ]] || ctx_cases="$ctx_cases $c"; done
fi
for c in $ctx_cases; do
  case $c in a|b|c) ;; *) echo "bench: unknown case $c (cases are a, b, c, fleet)" >&2; exit 2 ;; esac
  [ -d "$SHARED/cases/$c" ] || die "$SHARED/cases/$c not found (set BENCH_SHARED)"
done
if [ -n "$json" ]; then
  mkdir -p "$(dirname "$json")"; json=$(cd "$(dirname "$json")" && pwd)/$(basename "$json")
fi

for t in python3 skopeo umoci docker-registry busybox curl jq tar gzip; do
  command -v "$t" >/dev/null || die "needs $t (scripts/setup.sh installs what is missing)"
done

# --- builder -----------------------------------------------------------------------------
if [ -z "${BUILDER:-}" ]; then
  note "cargo build --release"
  cargo build --release --quiet
  BUILDER=$REPO/target/release/builder
fi
[ -x "$BUILDER" ] || die "builder binary $BUILDER not found"
BUILDER=$(cd "$(dirname "$BUILDER")" && pwd)/$(basename "$BUILDER")
if [ -n "$BASELINE" ]; then
  [ -x "$BASELINE" ] || die "baseline binary $BASELINE not found"
  BASELINE=$(cd "$(dirname "$BASELINE")" && pwd)/$(basename "$BASELINE")
fi

load_start=$(cut -d' ' -f1 /proc/loadavg)

# --- state, lock, cleanup ------------------------------------------------------------------
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)   # the context copy below runs from another directory
exec 9>"$STATE/lock"
flock -n 9 || die "another benchmark is using $STATE (set BENCH_STATE for a second one)"
RUN=$STATE/run
wipe_run
mkdir -p "$RUN/results" "$RUN/out"
RES=$RUN/results
export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-runc} DOCKER_BUILDKIT=1
if ! command -v "$BUILDAH_RUNTIME" >/dev/null; then unset BUILDAH_RUNTIME; fi
trap 'on_exit' EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --- contexts ------------------------------------------------------------------------------
size=full; [ "$short" = 1 ] && size=short
CTX=$STATE/ctx-$size
declare -A chg_file
for c in $ctx_cases; do
  mkdir -p "$CTX/$c"
  # The case's own files, fresh each run (the generated data/ of case a is kept).
  (cd "$SHARED/cases/$c" && find . -path ./data -prune -o -type f -print0 | \
     xargs -0 -I{} cp --parents -f {} "$CTX/$c/")
  chmod -R u+w "$CTX/$c"
  case $c in
    a) chg_file[a]=data/d050/f0100; [ "$short" = 1 ] && chg_file[a]=data/d050/f0010 ;;
    b) chg_file[b]=app.conf ;;
    c) chg_file[c]=src/file01.txt ;;
  esac
done
if [[ " $ctx_cases " == *" a "* ]]; then
  if [ ! -f "$CTX/a.generated" ]; then
    note "generating the case-a context ($size) in $CTX/a"
    rm -rf "$CTX/a/data"
    if [ "$short" = 1 ]; then
      gen_context "$CTX/a/data" 100 20 3840     # 2,000 files x 5,120 B = 10.2 MB
    else
      python3 "$CTX/a/gen-context.py" --force  # 20,000 files x 10,240 B = 204.8 MB
    fi
    touch "$CTX/a.generated"
  fi
  cp -p "$CTX/a/${chg_file[a]}" "$RUN/orig-a"   # restored after the chg runs and at exit
  a_files=$(find "$CTX/a/data" -type f | wc -l)
  a_bytes=$(find "$CTX/a/data" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
fi

# --- base images and the registry ----------------------------------------------------------
note "base images"
bash scripts/make-busybox-image.sh "$STATE/images/busybox" >/dev/null
if [[ " $cases " == *" b "* ]] && ! make_debian_image; then
  cases=$(echo " $cases " | sed 's/ b / /; s/^ *//; s/ *$//')
  ctx_cases=$(echo " $ctx_cases " | sed 's/ b / /; s/^ *//; s/ *$//')
fi
[ -n "$cases" ] || [ "$fleet" = 1 ] || die "no case left to run"
start_registry
push_image busybox latest
[[ " $cases " == *" b "* ]] && push_image debian bookworm
base_of() { if [ "$1" = b ]; then echo "$REG/debian:bookworm"; else echo "$REG/busybox:latest"; fi; }
for c in $ctx_cases; do
  sed -E "s#^(FROM[[:space:]]+)127\.0\.0\.1:5000/#\1$REG/#I" "$SHARED/cases/$c/Dockerfile" > "$CTX/$c/Dockerfile"
done

# --- the tools -----------------------------------------------------------------------------
# builder: a store holding only the base images, copied for every cold run.
SEED=$RUN/builder-seed STORE=$RUN/builder-store BSTORE=$RUN/baseline-store
for c in $ctx_cases; do
  "$BUILDER" --root "$SEED" pull -q "$(base_of "$c")" > "$RES/seed.log" 2>&1 || fail_log "builder pull $(base_of "$c")" "$RES/seed.log"
done
tools=(builder)
[ -n "$BASELINE" ] && tools+=(baseline)
have_buildah=0 have_docker=0 docker_note=""
# buildah only takes part in the table (cases a, b, c), not in the fleet case.
if [ "$peers" = 1 ] && [ -n "$cases" ] && command -v buildah >/dev/null; then
  setup_buildah && have_buildah=1 && tools+=(buildah)
fi
if [ "$peers" = 1 ]; then
  if setup_docker; then have_docker=1; tools+=(docker); fi
else
  docker_note="peers not run (--no-peers)"
fi

declare -A secs src all_times
# record KEY SECONDS SOURCE
record() { secs[$1]=$2; src[$1]=$3; }

# build_cmd TOOL CASE: the shell command that builds the case with the tool.
build_cmd() {
  local ctx=$CTX/$2
  case $1 in
    builder) q "$BUILDER" --root "$STORE" build --progress plain -t "builder-bench-$2" "$ctx" ;;
    baseline) q "$BASELINE" --root "$BSTORE" build --progress plain -t "builder-bench-$2" "$ctx" ;;
    buildah) q "${BUILDAH[@]}" build --layers -q --tls-verify=false -t "builder-bench-$2" "$ctx" ;;
    docker) q "${DOCKER[@]}" build --network host -q -t "builder-bench-$2" "$ctx" ;;
  esac
}
# reset_cmd TOOL CASE: what makes the next build cold (no cache, base image present).
reset_cmd() {
  case $1 in
    builder) echo "$(discard_cmd "$STORE") && $(q cp -a "$SEED" "$STORE")" ;;
    baseline) echo "$(discard_cmd "$BSTORE") && $(q cp -a "$SEED" "$BSTORE")" ;;
    buildah)
      echo "$(q "${BUILDAH[@]}" unmount -a) >/dev/null 2>&1; $(discard_cmd "$RUN/buildah/root" "$RUN/buildah/run") && $(q "${BUILDAH[@]}" pull -q --tls-verify=false "$(base_of "$2")") >/dev/null" ;;
    docker)
      if [ "$docker_private" = 1 ]; then
        echo "$(q "${DOCKER[@]}" rmi -f "builder-bench-$2") >/dev/null 2>&1; $(q "${DOCKER[@]}" builder prune -af) >/dev/null"
      else
        echo true   # someone else's dockerd: its cache is left alone, cold runs use --no-cache
      fi ;;
  esac
}
chg_cmd() {
  local f; f=$(q "$CTX/$1/${chg_file[$1]}")
  # shellcheck disable=SC2016  # expanded when the preparation runs
  if [ "$1" = b ]; then printf '%s\n' "printf '{\"name\": \"bench-b\", \"rev\": %s}\\n' \$(date +%s%N) > $f"
  else echo "date +%s%N >> $f"; fi
}

settle_after_wipe
if [[ " $cases " == *" a "* ]]; then
  note "warming the page cache with case a's context"
  tar -C "$CTX/a" -cf - data | cat >/dev/null
fi
for c in $cases; do
  orig=$RUN/orig-$c; [ -f "$orig" ] || cp -p "$CTX/$c/${chg_file[$c]}" "$orig"
  for t in "${tools[@]}"; do
    cmd=$(build_cmd "$t" "$c")
    cold=$cmd
    [ "$t" = docker ] && [ "$docker_private" = 0 ] && cold="$cmd --no-cache"
    reset=$(reset_cmd "$t" "$c")
    [ "$settle" != 0 ] && reset="$reset; sync; sleep $settle"
    measure "$t:$c:cold" "$runs" "$reset" "$cold"
    measure "$t:$c:warm" "$runs" "" "$cmd"
    measure "$t:$c:chg" "$runs" "$(chg_cmd "$c")" "$cmd"
    cp -p "$orig" "$CTX/$c/${chg_file[$c]}"
  done
done
# Peers not run: the recorded numbers (full size only).
if [ "$short" = 0 ]; then
  for c in $cases; do
    for m in cold warm chg; do
      [ "$have_buildah" = 1 ] || recorded "buildah:$c:$m" "buildah-$c-$m"
      [ "$have_docker" = 1 ] || recorded "docker:$c:$m" "docker-$c-$m"
    done
  done
fi

# --- layer pipeline, export, memory (case a) -----------------------------------------------
if [[ " $cases " == *" a "* ]]; then
  note "layer pipeline"
  printf 'FROM scratch\nCOPY data/ /data/\n' > "$RUN/Dockerfile.pipeline"
  PSTORE=$RUN/pipeline-store POUT=$RUN/out/pipeline.tar
  pcmd=$(q "$BUILDER" --root "$PSTORE" build --progress plain -f "$RUN/Dockerfile.pipeline" "$CTX/a")
  pprep="$(discard_cmd "$PSTORE") && rm -f $(q "$POUT")"
  measure "pipe:builder-gzip" "$runs" "$pprep" "$pcmd -o type=oci,dest=$(q "$POUT")"
  measure "pipe:tar-gzip" "$runs" "" "tar -C $(q "$CTX/a") -cf - data | gzip -6 >/dev/null"
  if command -v zstd >/dev/null; then
    measure "pipe:builder-zstd" "$runs" "$pprep" "$pcmd -o type=oci,dest=$(q "$POUT"),compression=zstd"
    measure "pipe:tar-zstd" "$runs" "" "tar -C $(q "$CTX/a") -cf - data | zstd -q -T0 >/dev/null"
  else
    note "zstd not installed: no tar | zstd -T0 floor"
  fi

  note "export of builder-bench-a to a docker-archive"
  if [[ " ${tools[*]} " != *" builder "* ]] || [ ! -d "$STORE" ]; then die "no builder store with case a"; fi
  # The image of the unchanged context (the chg runs left a changed one).
  run_logged "$RES/export-build.log" bash -c "$(build_cmd builder a)"
  DA=$RUN/out/a.docker.tar
  measure "export:builder" "$runs" "rm -f $(q "$DA")" \
    "$(q "$BUILDER" --root "$STORE" save --format docker -o "$DA" builder-bench-a)"
  run_logged "$RES/export-oci.log" "$BUILDER" --root "$STORE" save --format oci -o "$RUN/out/a.oci.tar" builder-bench-a
  mkdir -p "$RUN/out/a-oci" && tar -C "$RUN/out/a-oci" -xf "$RUN/out/a.oci.tar" && rm -f "$RUN/out/a.oci.tar"
  measure "export:skopeo" "$runs" "rm -f $(q "$DA")" \
    "$(q skopeo copy -q "oci:$RUN/out/a-oci" "docker-archive:$DA:builder-bench-a:latest")"
  if [ "$have_docker" = 1 ]; then
    measure "export:docker" "$runs" "rm -f $(q "$DA")" \
      "$(q "${DOCKER[@]}" save -o "$DA" builder-bench-a)"
  elif [ "$short" = 0 ]; then
    recorded "export:docker" docker-save-a
  fi

  if [ -x /usr/bin/time ]; then
    note "peak memory of builder, case a cold"
    eval "$(discard_cmd "$STORE")"; cp -a "$SEED" "$STORE"
    run_logged "$RES/rss.log" /usr/bin/time -v -o "$RES/rss.txt" bash -c "$(build_cmd builder a)"
    rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/rss.txt")
  else
    note "/usr/bin/time not installed (apt-get install time): no peak memory"
  fi
fi

[ "$fleet" = 1 ] && fleet_run
report

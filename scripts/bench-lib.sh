# shellcheck shell=bash disable=SC2004,SC2034,SC2154  # globals shared with scripts/bench.sh
# Helpers of scripts/bench.sh (sourced, not run): messages, timing, the local registry, the
# base images, the peers (buildah, dockerd) and cleanup. Expects the globals bench.sh sets
# (STATE, RUN, RES, SHARED, MIRROR, cases, short, ...).

note() { echo "bench: $*" >&2; }
die() { note "$*"; exit 1; }
# fail_log WHAT LOG: WHAT failed; print its output and stop.
fail_log() {
  note "$1 failed; its output ($2):"
  tail -n 80 "$2" >&2 || true
  exit 1
}
# run_logged LOG CMD...: run CMD with its output in LOG; stop with that output if it fails.
run_logged() {
  local log=$1; shift
  "$@" >"$log" 2>&1 || fail_log "$*" "$log"
}
# q ARGS...: the arguments quoted for a shell command line.
q() { local s; s=$(printf '%q ' "$@"); echo "${s% }"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
# discard_cmd PATH...: a shell command that moves each PATH that exists into $RUN/discarded,
# which on_exit removes with the rest of $RUN. Cold resets discard a store instead of deleting
# it: on ext4 without a journal, deleting tens of thousands of files makes every file created
# in the same block groups over the next minutes scan past all the freed inodes (the kernel's
# recently_deleted check), so a timed build right after a deletion measures the deletion.
discard_cmd() {
  local p out="mkdir -p $(q "$RUN/discarded")"
  for p in "$@"; do
    out+=" && { [ ! -e $(q "$p") ] || mv $(q "$p") \"\$(mktemp -d -p $(q "$RUN/discarded"))/\"; }"
  done
  echo "$out"
}
# wipe DIR: remove DIR (and anything a previous, interrupted run left mounted in it).
wipe() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  rm -rf "$1"
}
# wipe_run: wipe $RUN and note when, for settle_after_wipe of the next run.
wipe_run() {
  [ -e "$RUN" ] || return 0
  wipe "$RUN"
  date +%s > "$STATE/wiped-at"
}
# settle_after_wipe: with --settle, wait until 6 min have passed since a run's directory was
# last wiped (the kernel's window for recently freed inodes, see scripts/bench.sh), so that no
# timed build creates its files among the inodes a previous run freed.
settle_after_wipe() {
  [ "$settle" != 0 ] && [ -f "$STATE/wiped-at" ] || return 0
  local left
  left=$(( $(cat "$STATE/wiped-at") + 370 - $(date +%s) ))
  [ "$left" -gt 0 ] || return 0
  note "waiting ${left} s: a previous run's files were deleted less than 6 min ago (--settle)"
  sleep "$left"
}
unmount_under() {
  is_root || return 0
  local m
  awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

# gen_context DIR NDIRS NFILES NRAW: the shape of case a's gen-context.py at another size:
# DIR/dNNN/fNNNN, each file base64 of NRAW seeded random bytes.
gen_context() {
  python3 - "$@" <<'PY'
import base64, os, random, sys
out, ndirs, nfiles, nraw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(42)
for d in range(ndirs):
    dd = os.path.join(out, f"d{d:03}")
    os.makedirs(dd, exist_ok=True)
    for f in range(nfiles):
        with open(os.path.join(dd, f"f{f:04}"), "wb") as fh:
            fh.write(base64.b64encode(rng.randbytes(nraw)))
PY
}

# --- timing ----------------------------------------------------------------------------------
# measure KEY RUNS PREP CMD: run PREP (untimed, may be empty) then CMD, RUNS times; record the
# median wall time in seconds under KEY. A failing CMD or PREP stops the benchmark with its output.
measure() {
  local key=$1 n=$2 prep=$3 cmd=$4 id=${1//:/-} m
  local log=$RES/$id.log plog=$RES/$id.prep.log
  note "$key ($n run$([ "$n" = 1 ] || echo s))"
  if command -v hyperfine >/dev/null; then
    local args=(--runs "$n" --shell bash --style none --export-json "$RES/$id.json" -n "$id")
    [ -n "$prep" ] && args+=(--prepare "{ $prep; } >>$(q "$plog") 2>&1")
    if ! hyperfine "${args[@]}" "{ $cmd; } >$(q "$log") 2>&1" >"$RES/$id.hyperfine.log" 2>&1; then
      [ -s "$log" ] || cat "$RES/$id.hyperfine.log" >&2
      [ -s "$plog" ] && { note "output of the preparation ($plog):"; tail -n 40 "$plog" >&2; }
      fail_log "$key: $cmd" "$log"
    fi
    m=$(jq -r '.results[0].median' "$RES/$id.json")
    all_times[$key]=$(jq -r '.results[0].times | map(. * 1000 | round / 1000) | join(" ")' "$RES/$id.json")
  else
    local i t0 t1 times=()
    for ((i = 0; i < n; i++)); do
      if [ -n "$prep" ]; then bash -c "$prep" >>"$plog" 2>&1 || fail_log "$key: preparation $prep" "$plog"; fi
      t0=$(date +%s%N)
      bash -c "$cmd" >"$log" 2>&1 || fail_log "$key: $cmd" "$log"
      t1=$(date +%s%N)
      times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')")
    done
    all_times[$key]="${times[*]}"
    m=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
  fi
  record "$key" "$(awk -v m="$m" 'BEGIN {printf "%.3f", m}')" run
}
# recorded KEY NAME: record the mean of ../shared/bench/results/NAME.json (the numbers the
# issues quote) under KEY, marked as recorded.
recorded() {
  local f=$SHARED/results/$2.json
  [ -f "$f" ] || return 0
  record "$1" "$(jq -r '.results[0].mean * 1000 | round / 1000' "$f")" rec
}

# --- the local registry ----------------------------------------------------------------------
# start_registry: a docker-registry on 127.0.0.1 and a free port, storage under $RUN; sets REG.
start_registry() {
  local port
  mkdir -p "$RUN/registry"
  for _ in 1 2 3; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    REG=127.0.0.1:$port
    cat > "$RUN/registry/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RUN/registry/storage
http:
  addr: $REG
YAML
    docker-registry serve "$RUN/registry/config.yml" >"$RUN/registry/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do
      curl -fs "http://$REG/v2/" >/dev/null 2>&1 && { note "registry on $REG (pid $REG_PID)"; return 0; }
      kill -0 "$REG_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_registry
  done
  fail_log "starting docker-registry on 127.0.0.1" "$RUN/registry/log"
}
stop_registry() {
  [ -n "${REG_PID:-}" ] || return 0
  kill "$REG_PID" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
  REG_PID=""
}
# push_image NAME TAG: $STATE/images/NAME:TAG to $REG/NAME:TAG.
push_image() {
  run_logged "$RES/push-$1.log" skopeo copy -q --dest-tls-verify=false \
    "oci:$STATE/images/$1:$2" "docker://$REG/$1:$2"
}

# make_debian_image: $STATE/images/debian:bookworm from a debootstrap'd minbase rootfs (made
# once, kept in $STATE/debian-rootfs). Says why and returns 1 when case b cannot run.
make_debian_image() {
  local layout=$STATE/images/debian rootfs=$STATE/debian-rootfs
  if ! curl -fsS -m 15 -o /dev/null "$MIRROR/dists/bookworm/Release" 2>/dev/null; then
    note "case b skipped: the Debian mirror $MIRROR does not answer (its RUN apt-get needs it)"
    return 1
  fi
  if [ -f "$layout/index.json" ] && grep -q bookworm "$layout/index.json"; then return 0; fi
  if [ ! -f "$rootfs/etc/debian_version" ]; then
    is_root || { note "case b skipped: debootstrap needs root"; return 1; }
    command -v debootstrap >/dev/null || { note "case b skipped: debootstrap is not installed"; return 1; }
    note "debootstrap --variant=minbase bookworm into $rootfs (a few minutes, once)"
    rm -rf "$rootfs.tmp"
    if ! debootstrap --variant=minbase bookworm "$rootfs.tmp" "$MIRROR" >"$STATE/debootstrap.log" 2>&1; then
      tail -n 20 "$STATE/debootstrap.log" >&2
      note "case b skipped: debootstrap failed (log: $STATE/debootstrap.log)"
      rm -rf "$rootfs.tmp"
      return 1
    fi
    # As ../shared/bench/setup-peers.sh: no device nodes, apt lists or debs in the layer.
    rm -rf "$rootfs.tmp"/dev/* "$rootfs.tmp"/proc/* "$rootfs.tmp"/sys/* "$rootfs.tmp"/var/lib/apt/lists/* \
      "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/log/bootstrap.log
    echo "deb $MIRROR bookworm main" > "$rootfs.tmp/etc/apt/sources.list"
    mv "$rootfs.tmp" "$rootfs"
  fi
  note "packaging the Debian rootfs as an OCI image (umoci)"
  rm -rf "$layout.tmp" "$STATE/debian-bundle"
  {
    umoci init --layout "$layout.tmp" &&
    umoci new --image "$layout.tmp:bookworm" &&
    umoci unpack --image "$layout.tmp:bookworm" "$STATE/debian-bundle" &&
    cp -a "$rootfs/." "$STATE/debian-bundle/rootfs/" &&
    umoci repack --image "$layout.tmp:bookworm" "$STATE/debian-bundle" &&
    umoci config --image "$layout.tmp:bookworm" --os linux --architecture amd64 \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.cmd bash &&
    umoci gc --layout "$layout.tmp"
  } >"$RES/debian-image.log" 2>&1 || fail_log "packaging the Debian image" "$RES/debian-image.log"
  rm -rf "$STATE/debian-bundle" "$layout"
  mv "$layout.tmp" "$layout"
}

# --- peers -----------------------------------------------------------------------------------
# setup_buildah: BUILDAH (the command with its own storage under $RUN), base images pulled.
setup_buildah() {
  BUILDAH=(buildah --root "$RUN/buildah/root" --runroot "$RUN/buildah/run" --storage-driver overlay)
  local c
  for c in $cases; do
    "${BUILDAH[@]}" pull -q --tls-verify=false "$(base_of "$c")" >"$RES/buildah-pull.log" 2>&1 ||
      fail_log "buildah pull $(base_of "$c") (--no-peers runs without peers)" "$RES/buildah-pull.log"
  done
  buildah_note="buildah $(buildah --version | awk '{print $3}') (runtime ${BUILDAH_RUNTIME:-default}, --layers): this run"
}

# docker_client: a docker CLI whose `docker build` is BuildKit (a 20.x client has it built in,
# a newer one needs buildx); prefers Debian's /usr/bin/docker.
docker_client() {
  local c v
  for c in /usr/bin/docker "$(command -v docker || true)"; do
    if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
    v=$("$c" --version 2>/dev/null | sed -nE 's/^Docker version ([0-9]+)\..*/\1/p')
    [ -n "$v" ] || continue
    if [ "$v" -lt 23 ] || "$c" buildx version >/dev/null 2>&1; then echo "$c"; return 0; fi
  done
  return 1
}

# setup_docker: DOCKER (the client command) when a dockerd answers, or a private one was
# started (--dockerd); base images pulled. Returns 1 (docker_note says why) otherwise.
docker_private=0
setup_docker() {
  local dc
  dc=$(docker_client) || { docker_note="no docker client with BuildKit"; return 1; }
  if timeout 20 "$dc" info >/dev/null 2>&1; then
    DOCKER=("$dc")
    docker_note="docker build (BuildKit, dockerd $("$dc" version --format '{{.Server.Version}}' 2>/dev/null)): this run; cold runs use --no-cache (the daemon's build cache is left alone)"
  elif [ "$want_dockerd" = 1 ]; then
    start_dockerd "$dc" || return 1
  else
    docker_note="no dockerd answers (--dockerd starts a private one)"
    return 1
  fi
  local c
  for c in $cases; do
    "${DOCKER[@]}" pull -q "$(base_of "$c")" >"$RES/docker-pull.log" 2>&1 ||
      fail_log "docker pull $(base_of "$c")" "$RES/docker-pull.log"
  done
}

# start_dockerd CLIENT: a private dockerd as ../shared/bench/peers.sh starts it (data under
# $RUN, no bridge or iptables, so builds use --network host); stopped at exit.
start_dockerd() {
  if ! is_root || ! command -v dockerd >/dev/null; then
    docker_note="no dockerd answers, and a private one needs root and dockerd (apt-get install docker.io)"
    return 1
  fi
  DOCKERD_EXEC=/run/builder-bench-docker.$$
  local sock=$DOCKERD_EXEC/docker.sock
  mkdir -p "$DOCKERD_EXEC" "$RUN/docker"
  note "starting a private dockerd (data in $RUN/docker)"
  setsid dockerd --data-root "$RUN/docker" --exec-root "$DOCKERD_EXEC" --host "unix://$sock" \
    --pidfile "$DOCKERD_EXEC/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
    --storage-driver overlay2 >"$RES/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  DOCKER=("$1" -H "unix://$sock")
  for _ in $(seq 150); do
    "${DOCKER[@]}" info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  "${DOCKER[@]}" info >/dev/null 2>&1 || fail_log "starting dockerd" "$RES/dockerd.log"
  docker_private=1
  docker_note="docker build (BuildKit, private dockerd $("${DOCKER[@]}" version --format '{{.Server.Version}}')): this run"
}
stop_dockerd() {
  [ -n "${DOCKERD_PID:-}" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  DOCKERD_PID=""
  unmount_under "$DOCKERD_EXEC"
  rm -rf "$DOCKERD_EXEC"
}

# on_exit: restore the changed context files, stop what this run started, remove its state.
on_exit() {
  local status=$? c
  set +e
  for c in a b c; do
    [ -f "$RUN/orig-$c" ] && [ -n "${chg_file[$c]:-}" ] && cp -p "$RUN/orig-$c" "$CTX/$c/${chg_file[$c]}"
  done
  stop_dockerd
  stop_registry
  if [ -n "${BUILDAH:+x}" ]; then "${BUILDAH[@]}" rmi -a -f >/dev/null 2>&1; fi
  if [ -z "${BENCH_KEEP:-}" ]; then wipe_run; else note "kept $RUN (BENCH_KEEP)"; fi
  exit "$status"
}

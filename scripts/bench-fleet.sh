# shellcheck shell=bash disable=SC2034,SC2153,SC2154  # globals shared with scripts/bench.sh
# The fleet case of scripts/bench.sh (sourced, not run): CI runners with empty stores sharing
# one registry cache. For cases c and a: "runner 1" (a store holding only the base images)
# builds the case and pushes its cache (--cache-to type=registry,mode=max) to the run's
# registry, untimed; then "runner 2" builds it cold, from the same seed store, once without
# a cache and once with --cache-from that ref. Reported: both times, their ratio, how many
# steps runner 2 found cached, and the bytes it pulled (the blobs its store gained over the
# seed: the cached layers, plus the few kB of the image's config and manifest it writes).
# With a private dockerd (--dockerd), the same with BuildKit: an image pushed with
# BUILDKIT_INLINE_CACHE=1, then docker build --cache-from it after the build cache is
# pruned, with the steps its output shows CACHED and the layers it pulled. Fills
# secs[fleet:CASE-...], fleet_bytes[CASE], fleet_steps[CASE], fleet_docker_steps[CASE],
# fleet_docker_bytes[CASE], fleet_note.

declare -A fleet_bytes fleet_steps fleet_docker_steps fleet_docker_bytes
fleet_note=""

# blob_bytes_gained SEED STORE: the bytes of STORE's blobs that SEED does not have.
blob_bytes_gained() {
  comm -13 <(find "$1/blobs/sha256" -type f -printf '%f\n' | sort) \
    <(find "$2/blobs/sha256" -type f -printf '%f\n' | sort) |
    sed "s#^#$2/blobs/sha256/#" | xargs -r stat -c %s | awk '{s += $1} END {print s + 0}'
}

# step_ids LOG: the ids (#N) of the filesystem steps of a plain progress log (FROM excluded).
step_ids() {
  { grep -E '^#[0-9]+ \[([^]]+ )?[0-9]+/[0-9]+\] ' "$1" || true; } | { grep -v '\] FROM ' || true; } |
    cut -d' ' -f1 | sort -u
}

# buildkit_bytes_pulled LOG: the bytes of the layers BuildKit's plain progress log says it
# pulled ("#N pulling sha256:..."), sizes from the run's registry storage; the base image's
# layers left out, as builder's runner 2 has them in its seed store.
buildkit_bytes_pulled() {
  local blobs=$RUN/registry/storage/docker/registry/v2/blobs/sha256 d
  { grep -oE 'pulling sha256:[0-9a-f]{64}' "$1" || true; } | cut -d: -f2 | sort -u | while read -r d; do
    [ -e "$STATE/images/busybox/blobs/sha256/$d" ] && continue
    stat -c %s "$blobs/${d:0:2}/$d/data" 2>/dev/null || true
  done | awk '{s += $1} END {print s + 0}'
}

# settled RESET: the reset command, followed by sync and a wait of --settle seconds when set
# (as the cold runs of the table: see scripts/bench.sh).
settled() {
  if [ "$settle" != 0 ]; then echo "$1; sync; sleep $settle"; else echo "$1"; fi
}

# cached_steps LOG: "HIT/ALL", the filesystem steps of a plain progress log (builder's or
# BuildKit's, the same format) that say CACHED, of all of them.
cached_steps() {
  local all hit
  all=$(step_ids "$1" | wc -l)
  hit=$(step_ids "$1" | while read -r id; do grep -qx "$id CACHED" "$1" && echo "$id"; done | wc -l)
  echo "$hit/$all"
}

# fleet_case CASE: the builder measurements of one case.
fleet_case() {
  local c=$1
  local ref=$REG/fleet/$c:cache r1=$RUN/fleet-runner1 r2=$RUN/fleet-runner2
  eval "$(discard_cmd "$r1")"; cp -a "$SEED" "$r1"
  run_logged "$RES/fleet-$c-push.log" "$BUILDER" --root "$r1" build --progress plain \
    --cache-to "type=registry,ref=$ref,mode=max" "$CTX/$c"
  eval "$(discard_cmd "$r1")"
  local build reset
  build=$(q "$BUILDER" --root "$r2" build --progress plain "$CTX/$c")
  reset=$(settled "$(discard_cmd "$r2") && $(q cp -a "$SEED" "$r2")")
  measure "fleet:$c-nocache" "$runs" "$reset" "$build"
  measure "fleet:$c-cache" "$runs" "$reset" "$build --cache-from $(q "type=registry,ref=$ref")"
  # The store and log of the last --cache-from run.
  fleet_bytes[$c]=$(blob_bytes_gained "$SEED" "$r2")
  fleet_steps[$c]=$(cached_steps "$RES/fleet-$c-cache.log")
  eval "$(discard_cmd "$r2")"
}

# fleet_docker CASE: BuildKit's inline cache, timed the same way (private dockerd only).
fleet_docker() {
  local c=$1
  local ref=$REG/fleet/$c-docker:inline d prune reset build
  d=$(q "${DOCKER[@]}")
  run_logged "$RES/fleet-$c-docker-push.log" bash -c "$d build --network host -q \
    --build-arg BUILDKIT_INLINE_CACHE=1 -t $(q "$ref") $(q "$CTX/$c") && $d push -q $(q "$ref")"
  prune="$d rmi -f $(q "$ref") builder-bench-$c >/dev/null 2>&1; $d builder prune -af >/dev/null"
  reset=$(settled "$prune")
  build="$d build --network host --progress plain -t builder-bench-$c $(q "$CTX/$c")"
  measure "fleet:$c-docker-nocache" "$runs" "$reset" "$build"
  measure "fleet:$c-docker-inline" "$runs" "$reset" "$build --cache-from $(q "$ref")"
  fleet_docker_steps[$c]=$(cached_steps "$RES/fleet-$c-docker-inline.log")
  fleet_docker_bytes[$c]=$(buildkit_bytes_pulled "$RES/fleet-$c-docker-inline.log")
  # The prune after the last run: the daemon's cache is not left to the next case.
  bash -c "$prune" >>"$RES/fleet-$c-docker-inline.prep.log" 2>&1 || true
}

fleet_run() {
  local c docker=0
  if [ "$have_docker" = 1 ] && [ "$docker_private" = 1 ]; then
    docker=1
    fleet_note="BuildKit: a private dockerd, inline cache (BUILDKIT_INLINE_CACHE=1) and --cache-from"
  elif [ "$have_docker" = 1 ]; then
    fleet_note="BuildKit comparison not run: the dockerd that answers is not this run's (--dockerd starts a private one whose build cache may be pruned)"
  else
    fleet_note="BuildKit comparison not run: ${docker_note:-no dockerd}"
  fi
  for c in c a; do
    note "fleet: case $c"
    fleet_case "$c"
    [ "$docker" = 1 ] && fleet_docker "$c"
  done
  return 0
}

# fleet_report: the lines under the table.
fleet_report() {
  [ -n "${secs[fleet:c-cache]:-}" ] || return 0
  echo
  echo "fleet: runner 2 (a store with only the base images) builds with --cache-from the registry"
  echo "cache runner 1 pushed (mode=max), against the same cold build without it (ratio = with / without)"
  printf '  %-5s %10s %10s %7s %12s %14s\n' case "no cache" "--cache-from" ratio "steps cached" "bytes pulled"
  local c
  for c in c a; do
    printf '  %-5s %10s %10s %7s %12s %14s\n' "$c" "$(cell "fleet:$c-nocache")" "$(cell "fleet:$c-cache")" \
      "$(ratio "${secs[fleet:$c-cache]}" "${secs[fleet:$c-nocache]}")" "${fleet_steps[$c]}" "$(mb "${fleet_bytes[$c]}")"
  done
  if [ -n "${secs[fleet:c-docker-inline]:-}" ]; then
    echo "  BuildKit, inline cache imported with --cache-from after a prune (ratio = with / without),"
    echo "  and builder / BuildKit without a cache and with one (below 1: builder is faster):"
    printf '  %-5s %10s %10s %7s %12s %14s %14s %15s\n' case "no cache" "--cache-from" ratio "steps cached" \
      "bytes pulled" "builder/BK no" "builder/BK with"
    for c in c a; do
      printf '  %-5s %10s %10s %7s %12s %14s %14s %15s\n' "$c" "$(cell "fleet:$c-docker-nocache")" \
        "$(cell "fleet:$c-docker-inline")" \
        "$(ratio "${secs[fleet:$c-docker-inline]}" "${secs[fleet:$c-docker-nocache]}")" \
        "${fleet_docker_steps[$c]}" "$(mb "${fleet_docker_bytes[$c]}")" \
        "$(ratio "${secs[fleet:$c-nocache]}" "${secs[fleet:$c-docker-nocache]}")" \
        "$(ratio "${secs[fleet:$c-cache]}" "${secs[fleet:$c-docker-inline]}")"
    done
  fi
  echo "  $fleet_note"
}

# fleet_json: the fleet's counts as a JSON object (null when the case did not run).
fleet_json() {
  [ -n "${secs[fleet:c-cache]:-}" ] || { echo null; return 0; }
  jq -cn --arg cb "${fleet_bytes[c]}" --arg ab "${fleet_bytes[a]}" --arg cs "${fleet_steps[c]}" \
    --arg at "${fleet_steps[a]}" --arg note "$fleet_note" \
    --arg dcs "${fleet_docker_steps[c]:-}" --arg dat "${fleet_docker_steps[a]:-}" \
    --arg dcb "${fleet_docker_bytes[c]:-}" --arg dab "${fleet_docker_bytes[a]:-}" \
    '{bytes_pulled: {c: ($cb | tonumber), a: ($ab | tonumber)}, steps_cached: {c: $cs, a: $at}, buildkit: $note}
     + (if $dcs == "" then {} else {buildkit_steps_cached: {c: $dcs, a: $dat},
          buildkit_bytes_pulled: {c: ($dcb | tonumber), a: ($dab | tonumber)}} end)'
}

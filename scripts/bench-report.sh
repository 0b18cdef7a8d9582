# shellcheck shell=bash disable=SC2034,SC2154  # globals shared with scripts/bench.sh
# The report of scripts/bench.sh (sourced, not run): the table on stdout and, with --json, the
# same numbers as JSON. Reads the globals bench.sh fills: secs[KEY], src[KEY] (run | rec),
# cases, size, runs, BUILDER, buildah_note, docker_note, a_files, a_bytes, rss_kb, json, and
# the fleet's (scripts/bench-fleet.sh).

# ratio A B: A / B as "0.42x", or "-" when either is missing.
ratio() {
  if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then echo "-"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}
# cell KEY: the seconds, with "*" when recorded (not this run), or "-".
cell() {
  if [ -z "${secs[$1]:-}" ]; then echo "-"
  elif [ "${src[$1]}" = rec ]; then printf '%.3f*\n' "${secs[$1]}"
  else printf '%.3f\n' "${secs[$1]}"; fi
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

report() {
  local c m any_rec=0 k timing=hyperfine
  command -v hyperfine >/dev/null || timing="a shell loop"
  for k in "${!src[@]}"; do [ "${src[$k]}" = rec ] && any_rec=1; done
  local bver; bver=$("$BUILDER" --version 2>/dev/null | awk '{print $2}')
  local rev; rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+changes"
  echo
  echo "== builder benchmark: $size size, median of $runs run$([ "$runs" = 1 ] || echo s) ($timing), seconds"
  load_end=$(cut -d' ' -f1 /proc/loadavg)
  echo "   builder $bver (${BUILDER#"$REPO"/}, $rev); $(nproc) cores; $(uname -r); load average $load_start at the start, $load_end at the end"
  [[ $BUILDER == */debug/* ]] && echo "   (a debug build: its times say nothing about speed)"
  if [ -n "${a_files:-}" ]; then echo "   case a context: $a_files files, $(mb "$a_bytes")"; fi
  echo "   buildah: ${buildah_note:-not run}"
  echo "   docker:  ${docker_note:-not run}"
  [ "$any_rec" = 1 ] && echo "   * = recorded in ../shared/bench/results on this machine (mean of 3-5 runs), not this run"
  [ "$size" = short ] && [ "${#tools[@]}" = 1 ] && echo "   (recorded peer numbers are for the full-size contexts, so none are shown)"
  [ -n "${BASELINE:-}" ] && echo "   baseline: $BASELINE ($("$BASELINE" --version 2>/dev/null | awk '{print $2}'))"
  echo "   ratio = builder / peer (below 1: builder is faster)"
  echo
  local head=(case mode builder buildah ratio docker ratio) fmt='%-5s %-5s %9s %10s %7s %10s %7s'
  [ -n "${BASELINE:-}" ] && head+=(baseline ratio) && fmt="$fmt %9s %7s"
  # shellcheck disable=SC2059  # the format is built above
  [ -n "$cases" ] && printf "$fmt\n" "${head[@]}"
  for c in $cases; do
    for m in cold warm chg; do
      local row=("$c" "$m" "$(cell "builder:$c:$m")" \
        "$(cell "buildah:$c:$m")" "$(ratio "${secs[builder:$c:$m]:-}" "${secs[buildah:$c:$m]:-}")" \
        "$(cell "docker:$c:$m")" "$(ratio "${secs[builder:$c:$m]:-}" "${secs[docker:$c:$m]:-}")")
      [ -n "${BASELINE:-}" ] && row+=("$(cell "baseline:$c:$m")" \
        "$(ratio "${secs[builder:$c:$m]:-}" "${secs[baseline:$c:$m]:-}")")
      # shellcheck disable=SC2059
      printf "$fmt\n" "${row[@]}"
    done
  done
  if [ -n "${secs[pipe:builder-gzip]:-}" ]; then
    echo
    echo "layer pipeline: case a's data/ ($a_files files, $(mb "$a_bytes")); builder = FROM scratch + COPY,"
    echo "fresh store, -o type=oci (the layer written, hashed, compressed, stored and exported)"
    printf '  %-34s %9s   %-22s %9s %7s\n' "builder, gzip" "$(cell pipe:builder-gzip)" \
      "tar -c | gzip -6" "$(cell pipe:tar-gzip)" "$(ratio "${secs[pipe:builder-gzip]}" "${secs[pipe:tar-gzip]}")"
    [ -n "${secs[pipe:builder-zstd]:-}" ] &&
      printf '  %-34s %9s   %-22s %9s %7s\n' "builder, compression=zstd" "$(cell pipe:builder-zstd)" \
        "tar -c | zstd -T0" "$(cell pipe:tar-zstd)" "$(ratio "${secs[pipe:builder-zstd]}" "${secs[pipe:tar-zstd]}")"
  fi
  if [ -n "${secs[export:builder]:-}" ]; then
    echo
    echo "export of case a's image to a docker-archive (ratio = builder / that tool)"
    printf '  %-34s %9s\n' "builder save --format docker" "$(cell export:builder)"
    printf '  %-34s %9s %7s\n' "skopeo copy oci: docker-archive:" "$(cell export:skopeo)" \
      "$(ratio "${secs[export:builder]}" "${secs[export:skopeo]:-}")"
    [ -n "${secs[export:docker]:-}" ] &&
      printf '  %-34s %9s %7s\n' "docker save" "$(cell export:docker)" \
        "$(ratio "${secs[export:builder]}" "${secs[export:docker]}")"
  fi
  if [ -n "${rss_kb:-}" ]; then
    echo
    echo "peak memory (maximum resident set size) of builder build, case a cold: $(awk -v k="$rss_kb" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }')"
  fi
  fleet_report
  [ -n "$json" ] && write_json "$bver" "$rev" "$timing"
  return 0
}

# write_json VERSION REVISION TIMING: every number of the report, to $json.
write_json() {
  local k rows=()
  for k in "${!secs[@]}"; do
    rows+=("$(jq -cn --arg k "$k" --arg s "${secs[$k]}" --arg src "${src[$k]}" --arg t "${all_times[$k]:-}" \
      '{key: $k, seconds: ($s | tonumber), source: (if $src == "rec" then "recorded" else "this run" end)}
       + (if $t == "" then {} else {times: ($t | split(" ") | map(tonumber))} end)')")
  done
  printf '%s\n' "${rows[@]}" | jq -s \
    --arg version "$1" --arg revision "$2" --arg timing "$3" --arg size "$size" \
    --argjson runs "$runs" --arg cases "$cases" --arg buildah "${buildah_note:-not run}" \
    --arg docker "${docker_note:-not run}" --arg files "${a_files:-}" --arg bytes "${a_bytes:-}" \
    --arg rss "${rss_kb:-}" --argjson fleet "$(fleet_json)" --argjson cores "$(nproc)" --argjson load "[$load_start, $load_end]" --arg date "$(date -u +%FT%TZ)" '
    def split_key: (.key | split(":")) as $p
      | if ($p | length) == 3 then . + {section: "build", tool: $p[0], case: $p[1], mode: $p[2]}
        else . + {section: $p[0], tool: $p[1]} end;
    (map(split_key)) as $r
    | def secs($sec; $tool; $case; $mode):
        ($r[] | select(.section == $sec and .tool == $tool and .case == $case and .mode == $mode) | .seconds);
    {
      date: $date, size: $size, runs: $runs, statistic: "median (recorded: mean)", timing: $timing,
      cores: $cores, load_average: {start: $load[0], end: $load[1]}, builder: {version: $version, revision: $revision},
      peers: {buildah: $buildah, docker: $docker},
      case_a_context: (if $files == "" then null else {files: ($files | tonumber), bytes: ($bytes | tonumber)} end),
      results: ($r | sort_by(.section, .case // "", .mode // "", .tool)),
      ratios: ([
        ($r[] | select(.section == "build" and .tool != "builder")) as $p
        | [secs("build"; "builder"; $p.case; $p.mode)][0] as $b
        | select($b != null)
        | {case: $p.case, mode: $p.mode, peer: $p.tool, peer_source: $p.source, ratio: ($b / $p.seconds)}
      ] + [
        (["pipe", "builder-gzip", "tar-gzip"], ["pipe", "builder-zstd", "tar-zstd"],
         ["fleet", "c-cache", "c-nocache"], ["fleet", "a-cache", "a-nocache"],
         ["fleet", "c-docker-inline", "c-docker-nocache"], ["fleet", "a-docker-inline", "a-docker-nocache"],
         ["export", "builder", "skopeo"], ["export", "builder", "docker"]) as [$s, $x, $y]
        | [$r[] | select(.section == $s and .tool == $x)][0] as $a
        | [$r[] | select(.section == $s and .tool == $y)][0] as $b
        | select($a != null and $b != null)
        | {section: $s, of: $x, to: $y, peer_source: $b.source, ratio: ($a.seconds / $b.seconds)}
      ]),
      peak_rss_bytes: (if $rss == "" then null else ($rss | tonumber) * 1024 end),
      fleet: $fleet
    }' > "$json.tmp"
  mv "$json.tmp" "$json"
  note "wrote $json"
}

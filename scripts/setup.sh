#!/usr/bin/env bash
# Installs what building and testing builder needs on a Debian machine: a Rust toolchain
# (rustup's, if one is not there yet) and the system packages the tests use.
# Safe to run again; does nothing that is already done.
set -euo pipefail

need_apt=()
for tool in git:git jq:jq cc:gcc newuidmap:uidmap busybox:busybox-static; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: no Rust toolchain found; install one with rustup (https://rustup.rs) and run again" >&2
    exit 1
  fi
fi

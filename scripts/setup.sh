#!/usr/bin/env bash
# Installs what building and testing builder needs on a Debian machine: a Rust toolchain
# (rustup's, if one is not there yet) and the system packages the tests use.
# Safe to run again; does nothing that is already done.
set -euo pipefail

# tool:package — the verifiers the integration tests use (skopeo, umoci, jq), the busybox
# base-image fixture (busybox-static), newuidmap/newgidmap for rootless builds (uidmap), the
# user-mode network stack of RUN's default network (slirp4netns), and for the registry tests
# the CNCF distribution server (docker-registry), bcrypt htpasswd files (apache2-utils) and
# the token server's signing certificate (openssl), `--ssh` (ssh-agent and ssh-add from
# openssh-client; its tests also use ssh-keygen), and for the Git source tests over SSH a
# throwaway sshd (openssh-server).
need_apt=()
for tool in git:git jq:jq cc:gcc skopeo:skopeo umoci:umoci busybox:busybox-static \
            newuidmap:uidmap docker-registry:docker-registry htpasswd:apache2-utils \
            openssl:openssl debootstrap:debootstrap slirp4netns:slirp4netns \
            ssh-agent:openssh-client /usr/sbin/sshd:openssh-server; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
# The sandbox tests build a small static probe program (cc -static): libc.a.
dpkg -s libc6-dev >/dev/null 2>&1 || need_apt+=(libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

# slirp4netns opens /dev/net/tun inside the build's user namespace, so a rootless build
# needs it world-accessible, as udev makes it on a standard Debian (0666); minimal VMs and
# containers without udev leave it 0600.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "setup: chmod 0666 /dev/net/tun" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" chmod 0666 /dev/net/tun
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: no Rust toolchain found; install one with rustup (https://rustup.rs) and run again" >&2
    exit 1
  fi
fi

# The offline check of the CI recipes in docs/ci/ (tests/it/ci_docs.rs): a venv under
# target/ holding a pinned kubernetes-validate, which ships the Kubernetes JSON schemas
# (so validating needs no network after this), and PyYAML for the other recipes.
CI_VENV=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/ci-venv
if ! "$CI_VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -qx '1.37.0'; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "setup: apt-get install python3-venv" >&2
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-venv >/dev/null
  fi
  echo "setup: python3 -m venv $CI_VENV; pip install kubernetes-validate==1.37.0" >&2
  rm -rf "$CI_VENV"
  python3 -m venv "$CI_VENV"
  "$CI_VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0 PyYAML==6.0.4
fi

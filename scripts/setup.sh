#!/usr/bin/env bash
# Installs what building and testing builder needs on a Debian machine: a Rust toolchain
# (rustup's, if one is not there yet) and the system packages the tests use.
# Safe to run again; does nothing that is already done.
set -euo pipefail

# tool:package — curl and python3 for the benchmark (scripts/bench.sh), the verifiers the integration tests use (skopeo, umoci, jq), the busybox
# base-image fixture (busybox-static), newuidmap/newgidmap for rootless builds (uidmap), the
# user-mode network stack of RUN's default network (slirp4netns), and for the registry tests
# the CNCF distribution server (docker-registry), bcrypt htpasswd files (apache2-utils) and
# the token server's signing certificate (openssl), `--ssh` (ssh-agent and ssh-add from
# openssh-client; its tests also use ssh-keygen), for the Git source tests over SSH a
# throwaway sshd (openssh-server), and for RUN under emulation (`--platform linux/arm64` on
# an amd64 host) QEMU's static user-mode emulators with their binfmt_misc entries
# (qemu-user-static, registered by binfmt-support's update-binfmts), and podman, the engine
# `--load` loads into where no docker daemon answers.
# as_root CMD...: CMD as root: directly when this is root, else through sudo; without sudo
# (minimal Debian has none) say what to run instead and fail.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: this step needs root and sudo is not installed: run the script as root" \
      "(su -c 'bash scripts/setup.sh'), or install sudo (apt-get install sudo, as root) and" \
      "add yourself to the sudo group; the step was: $*" >&2
    return 1
  fi
}

need_apt=()
for tool in git:git jq:jq curl:curl python3:python3 cc:gcc skopeo:skopeo umoci:umoci busybox:busybox-static \
            newuidmap:uidmap docker-registry:docker-registry htpasswd:apache2-utils \
            openssl:openssl debootstrap:debootstrap slirp4netns:slirp4netns \
            ssh-agent:openssh-client /usr/sbin/sshd:openssh-server \
            qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support \
            podman:podman; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
# The sandbox tests build a small static probe program (cc -static): libc.a.
dpkg -s libc6-dev >/dev/null 2>&1 || need_apt+=(libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

# slirp4netns opens /dev/net/tun inside the build's user namespace, so a rootless build
# needs it world-accessible, as udev makes it on a standard Debian (0666); minimal VMs and
# containers without udev leave it 0600.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "setup: chmod 0666 /dev/net/tun" >&2
  as_root chmod 0666 /dev/net/tun
fi

# RUN for a foreign platform runs its binaries through binfmt_misc: the file system mounted
# (systemd mounts it on boot; a machine without systemd does not), and the emulators that
# qemu-user-static installs registered in the kernel. Debian registers them with the F
# (fix-binary) flag: the kernel opens the emulator once, at registration, so that it runs
# inside a build's root file system, which does not have it.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  echo "setup: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" >&2
  as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
    echo "setup: binfmt_misc cannot be mounted here: RUN under emulation will not work" >&2
fi
if [ -e /proc/sys/fs/binfmt_misc/status ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "setup: update-binfmts --import; update-binfmts --enable" >&2
  { as_root update-binfmts --import && as_root update-binfmts --enable; } ||
    echo "setup: update-binfmts failed: RUN under emulation will not work" >&2
fi

# The busybox of the emulation tests' foreign base images (scripts/make-busybox-image.sh
# --arch arm64, --arch 386): Debian's busybox-static for arm64 and i386, downloaded with a
# private package list, so that the host's package configuration and installed packages
# stay as they are.
DEBS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/fixtures/debs
missing=()
for arch in arm64 i386; do
  [ -f "$DEBS/busybox-static_$arch.deb" ] || missing+=("$arch")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get download busybox-static for ${missing[*]} (to $DEBS)" >&2
  apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$DEBS"
  apt_opts=(-qq -o "APT::Architecture=${missing[0]}" -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir" -o Dir::State::status=/dev/null -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  for arch in "${missing[@]}"; do apt_opts+=(-o "APT::Architectures::=$arch"); done
  if apt-get "${apt_opts[@]}" update >/dev/null &&
     (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "${missing[@]/#/busybox-static:}" >/dev/null); then
    for arch in "${missing[@]}"; do
      mv "$apt_dir"/busybox-static_*_"$arch".deb "$DEBS/busybox-static_$arch.deb.tmp"
      mv "$DEBS/busybox-static_$arch.deb.tmp" "$DEBS/busybox-static_$arch.deb"
    done
  else
    echo "setup: could not download busybox-static for ${missing[*]}: the emulation tests skip (on CI they fail)" >&2
  fi
  rm -rf "$apt_dir"
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
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-venv >/dev/null
  fi
  echo "setup: python3 -m venv $CI_VENV; pip install kubernetes-validate==1.37.0" >&2
  rm -rf "$CI_VENV"
  python3 -m venv "$CI_VENV"
  "$CI_VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0 PyYAML==6.0.4
fi

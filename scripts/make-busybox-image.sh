#!/usr/bin/env bash
# Makes a busybox base image as an OCI image layout, from Debian's busybox-static, with umoci
# (an independent tool, so our own writer is never its own fixture).
#
#   scripts/make-busybox-image.sh [--arch ARCH[,ARCH...]] DIR [TAG]
#       -> OCI layout at DIR, tagged TAG (default latest)
#
# ARCH is an OCI architecture (amd64, the default; arm64, arm, 386, ppc64le, s390x). One
# architecture makes a single image of platform linux/ARCH; several make an image index with
# one manifest per architecture under TAG (what a multi-platform base in a registry is). The
# busybox of an architecture other than the host's comes from Debian's busybox-static for it,
# which scripts/setup.sh downloads to target/fixtures/debs/busybox-static_DEBARCH.deb
# (BUSYBOX_DEBS names another directory); nothing is installed on the host for it.
#
# The rootfs: /bin/busybox, its applet links, /etc/passwd and /etc/group (root, a "user"
# 1000:1000, nobody), /tmp (1777), /root (0700). Idempotent: an existing layout is kept.
set -euo pipefail
arches=amd64
if [ "${1:-}" = --arch ]; then
  arches=${2:?usage: $0 [--arch ARCH[,ARCH...]] DIR [TAG]}
  shift 2
fi
out=${1:?usage: $0 [--arch ARCH[,ARCH...]] DIR [TAG]}
tag=${2:-latest}
[ -f "$out/index.json" ] && grep -q "\"$tag\"" "$out/index.json" && exit 0

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! "$busybox" --list-full >/dev/null 2>&1 || ! command -v umoci >/dev/null; then
  echo "make-busybox-image: needs busybox-static and umoci (apt-get install busybox-static umoci)" >&2
  exit 1
fi
debs=${BUSYBOX_DEBS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/fixtures/debs}

# Debian's name of an OCI architecture, and the OCI variant it implies.
deb_arch() {
  case $1 in
    arm) echo armhf ;; 386) echo i386 ;; ppc64le) echo ppc64el ;; *) echo "$1" ;;
  esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)

# The busybox binary for OCI architecture $1: the host's own, or the one of the downloaded
# package (the applet list is the host's: both come from the same Debian release).
busybox_for() {
  local arch=$1 deb
  if [ "$(deb_arch "$arch")" = "$(dpkg --print-architecture 2>/dev/null || echo amd64)" ]; then
    echo "$busybox"
    return
  fi
  deb=$debs/busybox-static_$(deb_arch "$arch").deb
  if [ ! -f "$deb" ]; then
    echo "make-busybox-image: $deb is missing; scripts/setup.sh downloads it" >&2
    exit 1
  fi
  mkdir -p "$work/deb-$arch"
  dpkg-deb -x "$deb" "$work/deb-$arch"
  echo "$work/deb-$arch/bin/busybox"
}

# Add the image for OCI architecture $2 to the layout $1 under the tag $3.
make_image() {
  local layout=$1 arch=$2 tag=$3 bin variant=() bundle rootfs
  bin=$(busybox_for "$arch")
  [ "$arch" = arm ] && variant=(--variant v7)
  bundle=$work/bundle-$arch
  rootfs=$bundle/rootfs
  umoci new --image "$layout:$tag"
  umoci unpack "${rootless[@]}" --image "$layout:$tag" "$bundle" >/dev/null
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/user,var}
  cp "$bin" "$rootfs/bin/busybox"
  chmod 0755 "$rootfs/bin/busybox"
  for p in $("$busybox" --list-full); do
    [ "$p" = bin/busybox ] && continue
    mkdir -p "$rootfs/$(dirname "$p")"
    ln -sf /bin/busybox "$rootfs/$p"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"
  [ "$(id -u)" -eq 0 ] && chown 1000:1000 "$rootfs/home/user"
  umoci repack --image "$layout:$tag" "$bundle" >/dev/null
  umoci config --image "$layout:$tag" --os linux --architecture "$arch" "${variant[@]}" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.cmd sh >/dev/null
}

# Replace the per-architecture tags of layout $1 by one image index tagged $2 that lists
# their manifests with their platforms.
make_index() {
  local layout=$1 tag=$2 index digest
  index=$(jq -c '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [.manifests[] | {mediaType, digest, size,
      platform: ({os: "linux", architecture: .annotations["org.opencontainers.image.ref.name"]}
        | if .architecture == "arm" then . + {variant: "v7"} else . end)}]}' \
    "$layout/index.json")
  printf '%s' "$index" > "$work/index"
  digest=$(sha256sum "$work/index" | cut -d' ' -f1)
  cp "$work/index" "$layout/blobs/sha256/$digest"
  jq -n --arg d "sha256:$digest" --argjson size "$(stat -c %s "$work/index")" --arg tag "$tag" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json",
      digest: $d, size: $size, annotations: {"org.opencontainers.image.ref.name": $tag}}]}' \
    > "$layout/index.json"
}

mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp"
umoci init --layout "$out.tmp"
IFS=, read -ra list <<< "$arches"
if [ ${#list[@]} -eq 1 ]; then
  make_image "$out.tmp" "${list[0]}" "$tag"
  umoci gc --layout "$out.tmp"
else
  for arch in "${list[@]}"; do
    make_image "$out.tmp" "$arch" "$arch"
  done
  umoci gc --layout "$out.tmp"
  make_index "$out.tmp" "$tag"
fi
rm -rf "$out"
mv "$out.tmp" "$out"

#!/usr/bin/env bash
# Makes a busybox base image as an OCI image layout, from Debian's busybox-static, with umoci
# (an independent tool, so our own writer is never its own fixture).
#
#   scripts/make-busybox-image.sh DIR [TAG]    -> OCI layout at DIR, tagged TAG (default latest)
#
# The rootfs: /bin/busybox, its applet links, /etc/passwd and /etc/group (root, a "user"
# 1000:1000, nobody), /tmp (1777), /root (0700). Idempotent: an existing layout is kept.
set -euo pipefail
out=${1:?usage: $0 DIR [TAG]}
tag=${2:-latest}
[ -f "$out/index.json" ] && grep -q "\"$tag\"" "$out/index.json" && exit 0

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! "$busybox" --list-full >/dev/null 2>&1 || ! command -v umoci >/dev/null; then
  echo "make-busybox-image: needs busybox-static and umoci (apt-get install busybox-static umoci)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/bundle/rootfs
rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)

mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp"
umoci init --layout "$out.tmp"
umoci new --image "$out.tmp:$tag"
umoci unpack "${rootless[@]}" --image "$out.tmp:$tag" "$work/bundle" >/dev/null
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/user,var}
cp "$busybox" "$rootfs/bin/busybox"
for p in $("$rootfs/bin/busybox" --list-full); do
  [ "$p" = bin/busybox ] && continue
  mkdir -p "$rootfs/$(dirname "$p")"
  ln -sf /bin/busybox "$rootfs/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
[ "$(id -u)" -eq 0 ] && chown 1000:1000 "$rootfs/home/user"
umoci repack --image "$out.tmp:$tag" "$work/bundle" >/dev/null
umoci config --image "$out.tmp:$tag" --os linux --architecture amd64 \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.cmd sh >/dev/null
umoci gc --layout "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"

#!/usr/bin/env bash
# The demo: builds builder, then builds the example in examples/hello — offline, RUN steps
# included — on a busybox base image made locally from Debian's busybox-static, and shows
# the result: the image in the store, its config, its root file system, and the image's
# entrypoint run in builder's sandbox.
#
#   scripts/demo.sh                       release build of builder (the default)
#   BUILDER_PROFILE=debug scripts/demo.sh the debug build (faster to compile)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
profile=${BUILDER_PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -q
else
  cargo build -q
fi
bin=$PWD/target/$profile/builder
example=examples/hello
demo=$PWD/target/demo
fixture=$PWD/target/fixtures/busybox

# A private store and output directory, fresh each time.
rm -rf "$demo"
mkdir -p "$demo"
builder() { "$bin" --root "$demo/store" "$@"; }

echo "== the Dockerfile ($example/Dockerfile)"
cat "$example/Dockerfile"
echo
echo "== the base image: busybox as an OCI layout (scripts/make-busybox-image.sh $fixture)"
scripts/make-busybox-image.sh "$fixture"
echo
echo "== builder debug plan --build-arg GREETING=hi (stages, expanded steps, config, history)"
builder debug plan --platform linux/amd64 --build-arg GREETING=hi -f "$example/Dockerfile" | head -40
echo "   ..."
echo
echo "== builder build: two stages, COPY and RUN, no network needed"
builder build --progress plain \
  --build-context busybox=oci-layout://"$fixture" \
  --build-arg GREETING=hi \
  -t hello:latest \
  -o type=local,dest="$demo/rootfs" \
  "$example"
echo
echo "== builder images"
builder images
echo
echo "== builder inspect hello: the image config"
builder inspect hello | jq '.config | {architecture, os, config, history: [.history[].created_by]}'
echo
echo "== the root file system (-o type=local,dest=$demo/rootfs)"
ls -l "$demo/rootfs/app"
echo "greeting.txt: $(cat "$demo/rootfs/app/greeting.txt")"
echo
# The image's own command line: entrypoint + cmd, as its user, in its working directory.
config=$(builder inspect hello | jq -c '.config.config')
mapfile -t argv < <(jq -r '(.Entrypoint // []) + (.Cmd // []) | .[]' <<<"$config")
user=$(jq -r '.User // ""' <<<"$config")
workdir=$(jq -r '.WorkingDir // "/"' <<<"$config")
echo "== builder debug run: the image's entrypoint and cmd (${argv[*]}) as $user in $workdir"
builder debug run --rootfs "$demo/rootfs" --user "$user" --cwd "$workdir" -- "${argv[@]}"

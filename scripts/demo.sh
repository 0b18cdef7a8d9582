#!/usr/bin/env bash
# The demo: builds builder, then shows what it makes of the example in examples/hello —
# the parsed Dockerfile and the build plan (stages, expanded steps, image config, history).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -q
bin=target/release/builder
example=examples/hello

echo "== the Dockerfile ($example/Dockerfile)"
cat "$example/Dockerfile"
echo
echo "== builder debug parse --dump (BuildKit's parser-test format)"
"$bin" debug parse --dump "$example/Dockerfile"
echo
echo "== builder debug plan --build-arg GREETING=hi"
"$bin" debug plan --platform linux/amd64 --build-arg GREETING=hi -f "$example/Dockerfile"

#!/usr/bin/env bash
# Runs every test of builder: unit tests, the conformance corpora in ../shared, golden plans
# and the CLI tests. Installs what the tests need first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
mkdir -p target
log=target/test-output.txt

# Unit, integration and doc tests. --show-output prints what passing tests printed: the conformance tests print their counts.
# The full log stays in target/test-output.txt; the terminal gets it without the "... ok" lines.
set +e
{ cargo test --all-targets --no-fail-fast -- --show-output && cargo test --doc; } 2>&1 | tee "$log" \
  | grep --line-buffered -Ev '^test .* \.\.\. ok$|^$|^successes:$|^    [A-Za-z0-9_:]+$|^running [0-9]+ tests?$'
status=${PIPESTATUS[0]}
set -e

# One summary line for the whole run.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "\nsummary: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"

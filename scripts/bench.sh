#!/usr/bin/env bash
# Builds, then runs one benchmark of bench/ in a free port slot, so it can run
# beside a test run on the same machine.
#   scripts/bench.sh create-ready|ssh-roundtrip|concurrency|show-scale|create-burst|command-flood|run-rm [-- ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/bench.sh create-ready|ssh-roundtrip|concurrency|show-scale|create-burst|command-flood|run-rm [ARGS]}
shift
[ -f "bench/$name.ts" ] || { echo "bench.sh: no benchmark bench/$name.ts" >&2; exit 2; }
npm run build --silent
# shellcheck source=port-slot.sh
source scripts/port-slot.sh
node "dist/bench/$name.js" "$@"

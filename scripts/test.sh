#!/usr/bin/env bash
# Builds, then runs dcm's tests with node's built-in runner.
#   scripts/test.sh            all tests: test/unit, test/e2e, test/ssh (need dockerd + base image)
#   scripts/test.sh unit       every test that needs no Docker engine (NO_DOCKER below)
#   scripts/test.sh FILE...    the named compiled test files or folders (dist/test/...)
# Test files run two at a time: each has its own state dir, instance label and
# port range, so they do not collide. Each run takes a free port slot at run
# time (DCM_TEST_PORT_OFFSET, below), so two runs on one machine — a
# developer's and CI's, or two checkouts — do not collide either.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
# Tests that run without a Docker engine: test/unit (fake engine), the SSH
# protocol in one process, and door tests whose commands never reach an engine.
# (Checked by running them with the engine's socket hidden.) Some need root:
# see the README.
NO_DOCKER=(
  dist/test/unit
  dist/test/ssh/protocol-inprocess.test.js
  dist/test/ssh/fuzz-exec-inprocess.test.js
  dist/test/ssh/fuzz-shell-inprocess.test.js
  dist/test/ssh/escape-user-text.test.js
  dist/test/ssh/server-limits.test.js
  dist/test/ssh/fuzz-ssh-socket.test.js
  dist/test/e2e/args-and-exit-codes.test.js
)
dirs=()
case "${1:-all}" in
  unit) dirs=("${NO_DOCKER[@]}") ;;
  all)  dirs=(dist/test/unit dist/test/e2e dist/test/ssh) ;;
  *)    dirs=("$@") ;;
esac

# Port slot: see scripts/port-slot.sh.
# shellcheck source=port-slot.sh
source "$(dirname "$0")/port-slot.sh"
echo "test.sh: port offset $DCM_TEST_PORT_OFFSET" >&2
node --test --test-concurrency="${DCM_TEST_CONCURRENCY:-2}" "${dirs[@]}"

#!/usr/bin/env bash
# Builds, then runs dcm's tests with node's built-in runner.
#   scripts/test.sh            all tests: unit, engine, e2e, ssh (need dockerd + base image)
#   scripts/test.sh unit       fast unit tests only (no Docker)
# Test files run two at a time: each has its own state dir, instance label and
# port range, so they do not collide.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
dirs=()
case "${1:-all}" in
  unit) dirs=(dist/test/unit) ;;
  all)  for d in unit engine e2e ssh; do [ -d "dist/test/$d" ] && dirs+=("dist/test/$d"); done ;;
  *)    dirs=("$@") ;;
esac
exec node --test --test-concurrency="${DCM_TEST_CONCURRENCY:-2}" "${dirs[@]}"

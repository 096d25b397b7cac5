# Sourced by scripts/test.sh and scripts/bench.sh: takes a free port slot for
# this run and exports DCM_TEST_PORT_OFFSET (test/helpers/ports.ts adds it).
# Port slot: tests use ports 30000-33999 shifted by 4000 × slot (slots 0-7).
# A slot is a directory made atomically; one whose owner process is gone is
# taken over. Released when the sourcing script exits.
SLOTS=/tmp/dcm-test-slots
take_slot() {
  local s d owner
  for s in 0 1 2 3 4 5 6 7; do
    d="$SLOTS/$s"
    if ! mkdir "$d" 2>/dev/null; then
      owner=$(cat "$d/pid" 2>/dev/null || true)
      { [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; } && continue
      rm -rf "$d"; mkdir "$d" 2>/dev/null || continue
    fi
    echo $$ >"$d/pid"
    SLOT_DIR=$d
    export DCM_TEST_PORT_OFFSET=$((s * 4000))
    return 0
  done
  return 1
}
if [ -z "${DCM_TEST_PORT_OFFSET:-}" ]; then
  mkdir -p "$SLOTS"
  # All slots busy: wait for one (bounded), rather than share ports.
  for _ in $(seq 1 180); do take_slot && break; sleep 5; done
  [ -n "${DCM_TEST_PORT_OFFSET:-}" ] || { echo "$(basename "$0"): all 8 port slots in $SLOTS stayed taken for 15 min" >&2; exit 1; }
  trap 'rm -rf "$SLOT_DIR"' EXIT
fi

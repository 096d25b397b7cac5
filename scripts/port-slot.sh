# Sourced by scripts/test.sh and scripts/bench.sh: takes a free port slot for
# this run and exports DCM_TEST_PORT_OFFSET (test/helpers/ports.ts adds it).
# Port slot: tests use ports 30000-33999 shifted by 4000 × slot (slots 0-7).
# A slot is a directory made atomically; one whose owner process is gone is
# taken over. Released when the sourcing script exits.
SLOTS=/tmp/dcm-test-slots
# Test instance names start with t<slot>- (test/helpers/ports.ts). Only one
# live run holds a slot, so objects with this slot's prefix were left by a run
# that was killed before its cleanup (a dcm container comes back with the
# engine, restart policy unless-stopped, and would hold this slot's ports).
# Remove them: containers, then networks, then images. Quiet when there is no
# engine (unit runs).
sweep_slot_leftovers() {
  local prefix="t$1-" ids
  command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1 || return 0
  ids=$(docker ps -a --filter label=dcm.instance --format '{{.ID}} {{.Label "dcm.instance"}}' |
    awk -v p="$prefix" 'index($2, p) == 1 { print $1 }' || true)
  # shellcheck disable=SC2086 # one word per id
  [ -z "$ids" ] || { echo "port-slot: removing $(echo $ids | wc -w) container(s) left by a killed test run in slot $1" >&2; docker rm -f $ids >/dev/null || true; }
  ids=$(docker network ls --filter label=dcm.instance --format '{{.ID}} {{.Label "dcm.instance"}}' |
    awk -v p="$prefix" 'index($2, p) == 1 { print $1 }' || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker network rm $ids >/dev/null || true
  ids=$(docker images -q --filter label=dcm.instance | sort -u || true)
  [ -z "$ids" ] || ids=$(docker image inspect --format '{{.Id}} {{index .Config.Labels "dcm.instance"}}' $ids |
    awk -v p="$prefix" 'index($2, p) == 1 { print $1 }' || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rmi -f $ids >/dev/null 2>&1 || true
}
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
    sweep_slot_leftovers "$s"
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

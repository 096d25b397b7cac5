#!/usr/bin/env bash
# One command from a fresh clone to a running dcm, as root on Debian 12:
# host prerequisites (apt, dockerd, npm deps, base image) → build → register
# the base image in the state dir → start dcm-server on the embedded SQLite and
# the local engine (foreground; Ctrl-C stops it).
#
#   sudo bash scripts/up.sh [--state-dir DIR] [--listen ADDR:PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
state_dir=${DCM_STATE_DIR:-/var/lib/dcm}
listen=""
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    *) echo "usage: scripts/up.sh [--state-dir DIR] [--listen ADDR:PORT]" >&2; exit 2 ;;
  esac
done
export DCM_STATE_DIR=$state_dir

bash scripts/setup-host.sh </dev/null
echo "dcm-up: building" >&2
npm run build --silent
node dist/bin/dcm-admin.mjs images add dcm/debian-base:bookworm >&2
node dist/bin/dcm-admin.mjs status >&2

cat >&2 <<MSG

dcm is ready (state: $state_dir). Add a user and try it:
  node dist/bin/dcm-useradd.mjs alice --key ~/.ssh/id_ed25519.pub
  node dist/bin/dcm.mjs --user alice create
MSG
if [ -f dist/bin/dcm-server.mjs ]; then
  echo "  ssh -p 2222 alice@127.0.0.1            # the restricted shell" >&2
  echo >&2
  exec node dist/bin/dcm-server.mjs ${listen:+--listen "$listen"}
fi

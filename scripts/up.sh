#!/usr/bin/env bash
# One command from a fresh clone to a running dcm, as root on Debian 12:
# host prerequisites (apt, dockerd, npm deps, base image) → a starter
# /etc/dcm/config.yaml if there is none → build → register
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

# dcm refuses to run without its configuration file (a missing file never
# means "no policy"), so a fresh install gets a starter one; an existing file
# is left alone.
config=${DCM_CONFIG:-/etc/dcm/config.yaml}
if [ ! -e "$config" ]; then
  mkdir -p "$(dirname "$config")"
  cat >"$config" <<'YAML'
# dcm configuration: see the README, "Configuration" and "Policy".
# Every key is optional; a file holding {} means the built-in defaults. dcm stops
# with one line if this file is missing, unreadable or invalid; check edits
# with `dcm-admin policy check`.
host: 127.0.0.1
defaults:
  limits: { memory: 2g, cpus: 2, pids: 1024, max_containers: 10 }
  # Which commands users have: every one but those denied here (a deny in any
  # layer wins); commands that run users' own images come in off, to allow here.
  # commands: { deny: [commit] }
# mounts:                       # the catalogue; sources may use {user} {uid} {gid} {home}
#   home: { source: "/home/{user}", target: /host-home, mode: rw, default: true }
YAML
  chmod 644 "$config"
  echo "dcm-up: wrote a starter configuration to $config" >&2
fi
echo "dcm-up: building" >&2
npm run build --silent
node dist/bin/dcm-admin.mjs images add dcm/debian-base:bookworm >&2
node dist/bin/dcm-admin.mjs status >&2

sd=""
[ "$state_dir" = /var/lib/dcm ] || sd=" --state-dir $state_dir"
# The other terminal has neither variable set: name a non-default configuration too.
[ "$config" = /etc/dcm/config.yaml ] || sd="$sd --config $config"
port=2222
[ -z "$listen" ] || port=${listen##*:}
cat >&2 <<MSG

dcm is ready (state: $state_dir). In another terminal, add a user and try it:
  node dist/bin/dcm-useradd.mjs$sd alice --key ~/.ssh/id_ed25519.pub
  ssh -p $port alice@127.0.0.1 create        # through dcm-server, started below
  node dist/bin/dcm.mjs$sd --user alice show  # or the local door, as root

MSG
exec node dist/bin/dcm-server.mjs ${listen:+--listen "$listen"}

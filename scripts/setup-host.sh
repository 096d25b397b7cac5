#!/usr/bin/env bash
# Prepare a Debian 12 host (or CI machine) for dcm: apt packages, a running
# dockerd, Node dependencies and the base image. Idempotent: every step checks
# first and does nothing when its work is already done. Safe with CI=true and
# no stdin (nothing prompts).
#
# usage: sudo scripts/setup-host.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DOCKERD_LOG=/var/log/dcm-dockerd.log
export DEBIAN_FRONTEND=noninteractive

step() { printf 'dcm-setup: %s\n' "$*" >&2; }
die() { printf 'dcm-setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt, dockerd and debootstrap need it)"

# --- 1. apt packages ---------------------------------------------------------
# docker.io/containerd/runc/iptables: the engine (Hub is unreachable, so images
# are built locally with debootstrap). openssh-*: tests use the real client and a
# baseline sshd. sudo: the sudo ways in, tested end to end. python3/make/g++:
# node-gyp builds better-sqlite3 from source when no prebuilt binary fits.
PACKAGES="docker.io containerd runc iptables iproute2 debootstrap openssh-client openssh-server sudo tmux ca-certificates python3 make g++ ssh-audit"
missing=""
for p in $PACKAGES; do
  # "ii " = wanted and installed; anything else (absent, half-installed) counts as missing.
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  step "installing apt packages:$missing"
  # Update only when something is missing: keeps re-runs offline and fast.
  apt-get update -q </dev/null
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -q --no-install-recommends $missing </dev/null
else
  step "apt packages: all present"
fi

# --- 2. dockerd --------------------------------------------------------------
# /usr/local/bin/docker may be a newer client than Debian's; it negotiates the
# API version with the 20.10 daemon, so whichever `docker` is first in PATH works.
command -v docker >/dev/null || die "no docker CLI in PATH after installing docker.io"
# dockerd's data root: /var/lib/docker unless /etc/docker/daemon.json names another.
docker_data_root() {
  local root=""
  [ -f /etc/docker/daemon.json ] &&
    root=$(sed -n 's/.*"data-root"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' /etc/docker/daemon.json | head -n 1)
  printf '%s\n' "${root:-/var/lib/docker}"
}

# Starts dockerd detached and waits for it. Returns 0 once it answers, 1 when
# it exited during start-up, 2 when it did not answer within 60 s.
start_dockerd() {
  # No systemd here (containers, CI): start the daemon by hand, detached from
  # this shell's stdin so it survives the script and never waits on a terminal.
  nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$dockerd_pid" 2>/dev/null || return 1
    sleep 1
  done
  docker info >/dev/null 2>&1 && return 0
  return 2
}

# What went wrong, in a few lines: the panic or fatal line itself (a Go panic's
# stack is long and the cause sits at its top), then the log's last lines.
explain_dockerd_log() {
  grep -m 3 -E '^panic:|level=fatal|failed to start daemon' "$DOCKERD_LOG" >&2 || true
  tail -n 8 "$DOCKERD_LOG" >&2
}

if docker info >/dev/null 2>&1; then
  step "dockerd: running"
else
  step "dockerd: not reachable, starting it (log: $DOCKERD_LOG)"
  rc=0
  start_dockerd || rc=$?
  # A dockerd killed mid-work (a power cut, a sandbox torn down) can leave its
  # network store in a state that makes the next start panic while restoring
  # networks. The store only caches what containers re-create when they start,
  # so moving it aside is the usual remedy; it drops user-defined networks, so
  # it is done by itself only in CI (or when the admin says so), and otherwise
  # the exact command is printed.
  if [ "$rc" -eq 1 ] && grep -q -E 'initNetworkController|Error initializing network controller' "$DOCKERD_LOG"; then
    netdb="$(docker_data_root)/network/files/local-kv.db"
    if [ -f "$netdb" ] && { [ "${CI:-}" = "true" ] || [ "${DCM_SETUP_RESET_NETWORK_STORE:-}" = "1" ]; }; then
      explain_dockerd_log
      aside="$netdb.broken-$(date +%Y%m%d%H%M%S)"
      step "dockerd: its network store does not load; moving it to $aside and starting again"
      mv "$netdb" "$aside"
      cp "$DOCKERD_LOG" "$DOCKERD_LOG.broken-network-store"
      rc=0
      start_dockerd || rc=$?
    elif [ -f "$netdb" ]; then
      explain_dockerd_log
      die "dockerd fails while loading its network store ($netdb). To start without it (user-defined networks are dropped; containers keep their data): DCM_SETUP_RESET_NETWORK_STORE=1 bash scripts/setup-host.sh"
    fi
  fi
  case "$rc" in
    0) step "dockerd: started (pid $dockerd_pid)" ;;
    1) explain_dockerd_log; die "dockerd exited during start-up" ;;
    *) explain_dockerd_log; die "dockerd did not answer within 60 s" ;;
  esac
fi

# --- 3. Node dependencies ----------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  die "node (>= 20) and npm are required; install Node 20 first"
fi
if [ -d "$REPO/node_modules" ]; then
  step "node modules: present"
else
  step "node modules: installing (better-sqlite3 may compile for ~2 min)"
  # npm ci when a lockfile exists: exact, reproducible versions.
  if [ -f "$REPO/package-lock.json" ]; then
    (cd "$REPO" && npm ci --no-audit --no-fund </dev/null)
  else
    (cd "$REPO" && npm install --no-audit --no-fund </dev/null)
  fi
fi

# --- 4. base image -----------------------------------------------------------
# build-base.sh itself skips when the image exists; it prints its own progress.
bash "$REPO/images/build-base.sh" </dev/null
step "done"

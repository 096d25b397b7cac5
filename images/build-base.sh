#!/usr/bin/env bash
# Build dcm's base image (default dcm/debian-base:bookworm) without any image
# registry: debootstrap a minimal Debian from the apt mirror the host already
# uses, then `docker import` the tree. Docker Hub is unreachable here, so this is
# the only way to get an image with sshd.
#
# usage: images/build-base.sh [--force] [--ref REF]
#   --force     rebuild even if REF already exists
#   --ref REF   image reference to create (default dcm/debian-base:bookworm)
set -euo pipefail

SUITE=bookworm
REF=dcm/debian-base:bookworm
FORCE=0
FALLBACK_MIRROR=http://deb.debian.org/debian
FALLBACK_SECURITY=http://deb.debian.org/debian-security

log() { printf 'dcm: %s\n' "$*" >&2; }
die() { printf 'dcm: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --ref) [ $# -ge 2 ] || die "--ref needs a value"; REF=$2; shift ;;
    --ref=*) REF=${1#--ref=} ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (allowed: --force, --ref REF)" ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon is not reachable (is dockerd running?)"

if [ "$FORCE" -eq 0 ] && docker image inspect "$REF" >/dev/null 2>&1; then
  log "base image $REF already exists (use --force to rebuild)"
  exit 0
fi

# First URI configured on the host for the given suite, from one-line
# sources.list files and deb822 *.sources files (skipping Enabled: no and
# deb-src). Using the host's own mirror keeps the build working where only the
# configured mirror is reachable.
host_mirror() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    # deb [opts] URI SUITE COMPONENTS...
    awk -v s="$suite" '
      { sub(/#.*/, "") }
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i+1) == s) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # Stanzas are separated by blank lines; a URIs/Suites field may hold several
    # space-separated values.
    awk -v s="$suite" '
      function flush(   n, u, k, su) {
        if (!found && types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/) {
          n = split(suites, su, " ")
          for (k = 1; k <= n; k++) if (su[k] == s) { split(uris, u, " "); print u[1]; found = 1; exit }
        }
        types = uris = suites = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types:") types = val
        else if (key == "uris:") uris = val
        else if (key == "suites:") suites = val
        else if (key == "enabled:") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
}

MIRROR=$(host_mirror "$SUITE" | head -n1)
MIRROR=${MIRROR:-$FALLBACK_MIRROR}
SECURITY=$(host_mirror "$SUITE-security" | head -n1)
SECURITY=${SECURITY:-$FALLBACK_SECURITY}

# /var/tmp rather than /tmp: debootstrap needs a filesystem without noexec/nodev.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/dcm-base.XXXXXX")
ROOTFS=$WORK/rootfs
LOGFILE=$WORK/debootstrap.log

cleanup() {
  local rc=$? m
  # debootstrap mounts proc/sys inside the target; if it died half-way they may
  # still be mounted, and rm -rf must never walk into the host's /proc or /sys.
  if [ -d "$ROOTFS" ]; then
    awk -v r="$ROOTFS/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  if [ "$rc" -ne 0 ] && [ -s "$LOGFILE" ]; then
    log "build failed; last lines of the debootstrap log:"
    tail -n 20 "$LOGFILE" >&2 || true
  fi
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$(date +%s)
log "building base image $REF from $MIRROR (about a minute)"
log "debootstrap $SUITE (minbase + openssh-server)..."
# sudo is left out: containers run with no-new-privileges, which makes it useless.
debootstrap --variant=minbase --include=openssh-server,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR" </dev/null >"$LOGFILE" 2>&1

log "trimming the root filesystem..."
# Host keys made by openssh-server's postinst would be shared by every
# container; dcm's init script makes a per-container key on first start.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
# Docker supplies these at run time; debootstrap copied the build host's.
rm -f "$ROOTFS"/etc/hostname "$ROOTFS"/etc/resolv.conf
: > "$ROOTFS"/etc/hosts
# Package lists and caches are stale the moment the image is built; users run
# apt-get update first, as in any Docker image.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/archives/partial/* \
  "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
  "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
# Give apt inside containers the updates and security suites too, from the
# same mirrors the host uses.
cat > "$ROOTFS"/etc/apt/sources.list <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF

log "importing into docker as $REF..."
tar --numeric-owner -C "$ROOTFS" -c . |
  docker import \
    --change 'CMD ["/usr/sbin/sshd","-D","-e"]' \
    --change 'LABEL dcm.base=1' \
    --message "dcm base image: debootstrap $SUITE minbase + openssh-server" \
    - "$REF" >/dev/null

SIZE=$(docker image inspect --format '{{.Size}}' "$REF")
log "built $REF in $(( $(date +%s) - START )) s ($(( SIZE / 1000000 )) MB)"

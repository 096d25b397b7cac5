#!/bin/sh
# dcm container entrypoint. dcm bind-mounts this file read-only at
# /usr/local/lib/dcm/init and runs it as root: ["/bin/sh", "/usr/local/lib/dcm/init"].
# The image's own CMD is not trusted to start sshd, so this script prepares the
# account and host key and then becomes sshd (PID 1, logs on stderr).
#
# Environment (set by dcm):
#   DCM_USER      unix name of the owner (also /home/$DCM_USER, already mounted)
#   DCM_UID       uid that owns the user's storage on the host
#   DCM_GID       gid that owns the user's storage on the host
#   DCM_INSTANCE  random token unique to this container; tells a container's own
#                 host key apart from one inherited through `docker commit`
#
# Plain POSIX sh with only coreutils/sed/grep: it must run on any Debian- or
# Ubuntu-like image that has OpenSSH, including ones without useradd.
set -eu

die() { printf 'dcm-init: %s\n' "$*" >&2; exit 1; }

# --- validate the environment -------------------------------------------------
for v in DCM_USER DCM_UID DCM_GID DCM_INSTANCE; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || die "required environment variable $v is missing"
done
case "$DCM_USER" in
  [a-z_]*) ;;
  *) die "DCM_USER '$DCM_USER' is not a valid unix name" ;;
esac
# The name is used inside sed patterns and file paths below, so allow only
# [a-z0-9_-], at most 32 characters, and never root.
case "$DCM_USER" in *[!a-z0-9_-]*) die "DCM_USER '$DCM_USER' is not a valid unix name" ;; esac
[ "${#DCM_USER}" -le 32 ] || die "DCM_USER '$DCM_USER' is longer than 32 characters"
[ "$DCM_USER" != root ] || die "DCM_USER must not be root"
for v in DCM_UID DCM_GID; do
  eval "val=\$$v"
  case "$val" in *[!0-9]*) die "$v '$val' is not a number" ;; esac
  # uid/gid 0 would make the user's files root's; dcm never hands those out.
  if [ "${#val}" -gt 10 ] || [ "$val" -lt 1 ] || [ "$val" -ge 4294967295 ]; then
    die "$v '$val' is out of range"
  fi
done
case "$DCM_INSTANCE" in *[!A-Za-z0-9._-]*) die "DCM_INSTANCE contains characters other than [A-Za-z0-9._-]" ;; esac

[ -x /usr/sbin/sshd ] || die "this image has no OpenSSH server (/usr/sbin/sshd is missing)"
command -v ssh-keygen >/dev/null 2>&1 || die "this image has no ssh-keygen"

HOME_DIR=/home/$DCM_USER

# Print field WANT of the first line whose field KEY equals VALUE in a
# colon-separated file (passwd, group, shadow); fail if there is none. Fields
# 1-6 only; f7 soaks up the rest of the line and is never used. No subshells
# per line: this runs on every container start.
field_of() { # file key_field value want_field
  # shellcheck disable=SC2034 # f2..f7 are read through pick
  while IFS=: read -r f1 f2 f3 f4 f5 f6 f7 || [ -n "${f1:-}" ]; do
    pick "$2"
    if [ "$picked" = "$3" ]; then pick "$4"; printf '%s\n' "$picked"; return 0; fi
    f1=
  done < "$1"
  return 1
}
pick() { # N -> $picked = $fN
  case $1 in
    1) picked=$f1 ;; 2) picked=$f2 ;; 3) picked=$f3 ;;
    4) picked=$f4 ;; 5) picked=$f5 ;; 6) picked=$f6 ;;
    *) die "internal: field $1 not supported" ;;
  esac
}

# --- group -------------------------------------------------------------------
# Reuse whatever group already has the gid (the image may have one, e.g. users).
if ! field_of /etc/group 3 "$DCM_GID" 1 >/dev/null; then
  GROUP_NAME=$DCM_USER
  field_of /etc/group 1 "$GROUP_NAME" 1 >/dev/null && GROUP_NAME=dcm-g$DCM_GID
  if command -v groupadd >/dev/null 2>&1; then
    groupadd -g "$DCM_GID" "$GROUP_NAME"
  else
    printf '%s:x:%s:\n' "$GROUP_NAME" "$DCM_GID" >> /etc/group
    [ ! -f /etc/gshadow ] || printf '%s:!::\n' "$GROUP_NAME" >> /etc/gshadow
  fi
fi

# --- user --------------------------------------------------------------------
SHELL_PATH=/bin/sh
[ ! -x /bin/bash ] || SHELL_PATH=/bin/bash

# A same-named account with another uid, gid or home (e.g. baked into a foreign
# image) would not match the mounted storage: drop its passwd line and re-add.
if cur_uid=$(field_of /etc/passwd 1 "$DCM_USER" 3); then
  cur_gid=$(field_of /etc/passwd 1 "$DCM_USER" 4)
  cur_home=$(field_of /etc/passwd 1 "$DCM_USER" 6)
  if [ "$cur_uid" != "$DCM_UID" ] || [ "$cur_gid" != "$DCM_GID" ] || [ "$cur_home" != "$HOME_DIR" ]; then
    sed -i "/^$DCM_USER:/d" /etc/passwd
  fi
fi
if ! field_of /etc/passwd 1 "$DCM_USER" 1 >/dev/null; then
  if command -v useradd >/dev/null 2>&1 && ! { [ -f /etc/shadow ] && field_of /etc/shadow 1 "$DCM_USER" 1 >/dev/null; }; then
    # -o: the image may already have another account with this uid (e.g. 1000);
    # -M: the home is the mounted storage; -l: no lastlog/faillog entry.
    useradd -o -M -l -u "$DCM_UID" -g "$DCM_GID" -d "$HOME_DIR" -s "$SHELL_PATH" -p '*' "$DCM_USER"
  else
    if [ -f /etc/shadow ]; then
      printf '%s:x:%s:%s::%s:%s\n' "$DCM_USER" "$DCM_UID" "$DCM_GID" "$HOME_DIR" "$SHELL_PATH" >> /etc/passwd
      field_of /etc/shadow 1 "$DCM_USER" 1 >/dev/null ||
        printf '%s:*:%s:0:99999:7:::\n' "$DCM_USER" "$(( $(date +%s) / 86400 ))" >> /etc/shadow
    else
      printf '%s:*:%s:%s::%s:%s\n' "$DCM_USER" "$DCM_UID" "$DCM_GID" "$HOME_DIR" "$SHELL_PATH" >> /etc/passwd
    fi
  fi
fi

# If the image already has another account with this uid (e.g. ubuntu = 1000),
# move our line in front of it: getpwuid() returns the first match, and whoami,
# ls -l and the prompt should name the dcm user.
if [ "$(field_of /etc/passwd 3 "$DCM_UID" 1)" != "$DCM_USER" ]; then
  mine=$(grep "^$DCM_USER:" /etc/passwd)
  tmp=/etc/.passwd.dcm.$$
  placed=
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in "$DCM_USER":*) continue ;; esac
    rest=${l#*:}; rest=${rest#*:}
    if [ -z "$placed" ] && [ "${rest%%:*}" = "$DCM_UID" ]; then
      printf '%s\n' "$mine"; placed=1
    fi
    printf '%s\n' "$l"
  done < /etc/passwd > "$tmp"
  cat "$tmp" > /etc/passwd   # rewrite in place: keeps the file's owner and mode
  rm -f "$tmp"
fi

# With UsePAM off, sshd refuses key logins to accounts whose password field
# starts with '!' (locked). '*' means "no password" and still allows keys.
if [ -f /etc/shadow ]; then
  for u in root "$DCM_USER"; do
    sed -i "s/^$u:![^:]*:/$u:*:/" /etc/shadow
  done
fi

# Normally mounted by dcm; create it only so sshd has a home to look at.
if [ ! -d "$HOME_DIR" ]; then
  mkdir -p "$HOME_DIR"
  chown "$DCM_UID:$DCM_GID" "$HOME_DIR"
fi

# --- host key ----------------------------------------------------------------
# Keep the key across stop/start of this container; make a new one when there is
# none or it was inherited from another container through `docker commit`
# (the marker then holds that container's token). ed25519 only: RSA costs ~0.6 s.
KEY=/etc/ssh/ssh_host_ed25519_key
MARKER=/etc/ssh/.dcm-instance
mark=
[ ! -r "$MARKER" ] || mark=$(cat "$MARKER")
if [ ! -s "$KEY" ] || [ ! -s "$KEY.pub" ] || [ "$mark" != "$DCM_INSTANCE" ]; then
  rm -f /etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "dcm-$DCM_INSTANCE" -f "$KEY" </dev/null >/dev/null
  printf '%s\n' "$DCM_INSTANCE" > "$MARKER"
fi

# --- sshd --------------------------------------------------------------------
# Privilege-separation directory; /run is empty in a fresh container.
mkdir -p /run/sshd
chmod 0755 /run/sshd

# Command-line -o values win over the image's sshd_config for global settings
# (sshd keeps the first value it reads), so a foreign image's config cannot
# switch password or PAM login on. (Root inside the container can still change
# sshd_config Match blocks; that only affects their own container.)
# HostKey on the command line replaces sshd's default key list, so it does not
# look for the RSA/ECDSA keys that were never made; HostKey lines in the image's
# config are added on top and only log "Unable to load host key" if missing.
# AuthorizedKeysFile names only the file dcm keeps (sshd's default also reads
# authorized_keys2, where a revoked key's holder could have left a line).
# DCM_ROOT_LOGIN=no: the admin forces the host identity for this user, so
# root gets no login at all, whatever keys an image may carry.
# Algorithms: only modern ones, whatever the image's sshd_config offers
# (ssh-audit finds no NIST-curve key exchange, no SHA-1 or encrypt-and-MAC MAC,
# no compression). All of them exist since OpenSSH 6.5 (curve25519-sha256
# since 7.4, which also speaks the @libssh.org name), so any image old enough
# to lack one would be too old to trust anyway. Strict key exchange (Terrapin)
# is on by itself in every OpenSSH that has it.
ROOT_LOGIN=prohibit-password
[ "${DCM_ROOT_LOGIN:-}" = no ] && ROOT_LOGIN=no
exec /usr/sbin/sshd -D -e \
  -o PasswordAuthentication=no \
  -o KbdInteractiveAuthentication=no \
  -o PermitRootLogin="$ROOT_LOGIN" \
  -o UsePAM=no \
  -o AuthorizedKeysFile=.ssh/authorized_keys \
  -o HostKey="$KEY" \
  -o HostKeyAlgorithms=ssh-ed25519 \
  -o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org \
  -o Ciphers=chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com \
  -o MACs=hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com \
  -o Compression=no

#!/usr/bin/env bash
# Finds (or installs into .consul/) a Consul binary and prints its path.
#
#   scripts/consul.sh ensure    print the path of a usable consul binary
#
# Order: $CONSUL_BIN, `consul` on PATH, the cached .consul/bin/consul, and
# last, on a Debian-family machine, Debian's own `consul` package from the
# release that still ships it (bullseye, Consul 1.8.7). The package is fetched
# with private apt state so the system's sources and lists stay untouched, and
# the mirror is read from the machine's own apt sources: this repo names none.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.consul"
cached_bin="$cache/bin/consul"
debian_suite="bullseye"

log() { printf 'consul.sh: %s\n' "$*" >&2; }

usable() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" version >/dev/null 2>&1; }

# The first Debian mirror named in the machine's apt sources (deb822 or one-line form).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  return 1
}

install_from_debian() {
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || return 1
  local mirror work keyring
  mirror=$(debian_mirror) || { log "no Debian mirror found in /etc/apt/sources*"; return 1; }
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || { log "missing $keyring (package debian-archive-keyring)"; return 1; }
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/pkg"
  echo "deb [signed-by=$keyring] $mirror $debian_suite main" >"$work/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$work/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
  )
  log "fetching Debian's consul package ($debian_suite) from the machine's Debian mirror"
  apt-get "${apt_opts[@]}" -qq update >&2
  (cd "$work/pkg" && apt-get "${apt_opts[@]}" -qq download consul >&2)
  dpkg -x "$work"/pkg/consul_*.deb "$work/root"
  mkdir -p "$cache/bin"
  install -m 0755 "$work/root/usr/bin/consul" "$cached_bin"
  rm -rf "$work"
}

ensure() {
  if [ -n "${CONSUL_BIN:-}" ]; then
    usable "$CONSUL_BIN" && { echo "$CONSUL_BIN"; return 0; }
    log "CONSUL_BIN=$CONSUL_BIN is not a working consul binary"; return 1
  fi
  local on_path
  on_path=$(command -v consul || true)
  usable "$on_path" && { echo "$on_path"; return 0; }
  usable "$cached_bin" && { echo "$cached_bin"; return 0; }
  if install_from_debian && usable "$cached_bin"; then
    echo "$cached_bin"; return 0
  fi
  log "could not find or install Consul."
  log "Install it (https://developer.hashicorp.com/consul/install) and put it on PATH, or set CONSUL_BIN=/path/to/consul."
  return 1
}

case "${1:-}" in
  ensure) ensure ;;
  *) echo "usage: scripts/consul.sh ensure" >&2; exit 2 ;;
esac

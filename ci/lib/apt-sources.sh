#!/usr/bin/env bash
# Functions that read a machine's APT configuration, sourced by ci/setup.sh and tested by ci/test-setup.sh against
# fixture trees (ci/fixtures/apt/*). Every function takes the root folder of the tree to read ("" or "/" for this
# machine) so that the tests never touch the real /etc.
#
# Nothing here may fail under `set -euo pipefail`: a missing file is "nothing found", not an error.

# os_codename ROOT: VERSION_CODENAME from ROOT/etc/os-release, or nothing.
os_codename() {
  local root=${1%/}
  local f="$root/etc/os-release"
  [ -r "$f" ] || return 0
  sed -n 's/^VERSION_CODENAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$f" | awk 'NR == 1'
}

# os_id ROOT: ID from ROOT/etc/os-release (debian, ubuntu, ...), or nothing.
os_id() {
  local root=${1%/}
  local f="$root/etc/os-release"
  [ -r "$f" ] || return 0
  sed -n 's/^ID="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$f" | awk 'NR == 1'
}

# deb822_uris ROOT SUITE: the URIs of enabled `deb` stanzas in ROOT/etc/apt/sources.list.d/*.sources whose Suites
# include SUITE exactly (bookworm, not bookworm-security), one per line, in file order.
deb822_uris() {
  local root=${1%/} suite=$2 f
  for f in "$root"/etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ")) {
          n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i]
        }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }
    ' "$f"
  done
}

# oneline_uris ROOT SUITE: the URIs of `deb` lines for SUITE in ROOT/etc/apt/sources.list and
# ROOT/etc/apt/sources.list.d/*.list (options in [...] allowed), one per line, in file order.
oneline_uris() {
  local root=${1%/} suite=$2 f
  for f in "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    sed -E -n "s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([a-z+]+:[^[:space:]]+)[[:space:]]+${suite}[[:space:]].*/\2/p" "$f"
  done
}

# backports_uri ROOT CODENAME: the mirror this machine already uses for CODENAME (deb822 sources first, then
# one-line ones), so that CODENAME-backports can be added from the same mirror; nothing if none is configured.
backports_uri() {
  local root=$1 codename=$2
  { deb822_uris "$root" "$codename"; oneline_uris "$root" "$codename"; } | awk 'NR == 1'
}

# qemu_plan MAJOR ROOT: what to do about qemu-user given the installed major version (0 = none) and the OS:
#   ok                 qemu >= 10 is installed already
#   distro             the distribution's own qemu-user is >= 10 (not bookworm): install it from there
#   backports URI      bookworm: add bookworm-backports from URI and install qemu-user from it
#   no-backports       bookworm without a configured Debian mirror: keep the distribution's qemu 7.2
qemu_plan() {
  local major=${1:-0} root=$2 codename uri
  if [ "$major" -ge 10 ] 2>/dev/null; then echo ok; return 0; fi
  codename=$(os_codename "$root")
  if [ "$codename" != bookworm ]; then echo distro; return 0; fi
  uri=$(backports_uri "$root" bookworm)
  if [ -n "$uri" ]; then echo "backports $uri"; else echo no-backports; fi
}

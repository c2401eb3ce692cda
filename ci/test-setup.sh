#!/usr/bin/env bash
# Tests of ci/lib/apt-sources.sh (what ci/setup.sh derives from a machine's APT configuration) against the fixture
# trees in ci/fixtures/apt/, one per configuration seen on real machines. Runs under the same `set -euo pipefail`
# as setup.sh, so a function that fails on a missing file fails here too.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/apt-sources.sh
. ci/lib/apt-sources.sh

fixtures=ci/fixtures/apt
failures=0
check() { # name expected actual
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected '$2', got '$3'"
    failures=$((failures + 1))
  fi
}

# Where the backports mirror comes from, per APT layout.
check "deb822 only (debian.sources; disabled and deb-src stanzas skipped)" \
  "http://deb.debian.org/debian" "$(backports_uri "$fixtures/deb822-only" bookworm)"
check "one-line sources.list only (options in [...], deb-src and -security skipped)" \
  "http://ftp.fr.debian.org/debian" "$(backports_uri "$fixtures/one-line-only" bookworm)"
check "both layouts: deb822 wins" \
  "http://mirror.deb822.example/debian" "$(backports_uri "$fixtures/both" bookworm)"
check "neither: no Debian mirror, nothing derived" \
  "" "$(backports_uri "$fixtures/neither" bookworm)"
check "no /etc/apt at all" "" "$(backports_uri "$fixtures/does-not-exist" bookworm)"

# What setup.sh decides about qemu-user.
check "bookworm, qemu 7 (deb822): backports" \
  "backports http://deb.debian.org/debian" "$(qemu_plan 7 "$fixtures/deb822-only")"
check "bookworm, no qemu (one-line): backports" \
  "backports http://ftp.fr.debian.org/debian" "$(qemu_plan 0 "$fixtures/one-line-only")"
check "bookworm, qemu 7, neither layout: says backports cannot be derived" \
  "no-backports" "$(qemu_plan 7 "$fixtures/neither")"
check "qemu already >= 10: nothing to do" "ok" "$(qemu_plan 10 "$fixtures/deb822-only")"
check "qemu 10 on a machine with no sources: nothing to do" "ok" "$(qemu_plan 10 "$fixtures/neither")"
check "non-bookworm Debian (trixie): the distribution's qemu" "distro" "$(qemu_plan 0 "$fixtures/trixie")"
check "Ubuntu: the distribution's qemu" "distro" "$(qemu_plan 0 "$fixtures/ubuntu-noble")"
check "no os-release: the distribution's qemu" "distro" "$(qemu_plan 7 "$fixtures/no-os-release")"
check "os-release codename (bookworm)" "bookworm" "$(os_codename "$fixtures/both")"
check "os-release id (ubuntu)" "ubuntu" "$(os_id "$fixtures/ubuntu-noble")"
check "os-release missing" "" "$(os_codename "$fixtures/no-os-release")"

if [ "$failures" -gt 0 ]; then
  echo "test-setup: $failures failure(s)"
  exit 1
fi
echo "test-setup: ok"

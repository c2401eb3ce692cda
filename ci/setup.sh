#!/usr/bin/env bash
# Idempotent set-up of everything edgebench's build, tests and backends need on a Debian machine:
#   apt: Mesa lavapipe (software Vulkan) for wonnx, the aarch64 cross linker + libc, qemu-user for emulated runs,
#        OpenSSH (the ssh runner is tested against a server on 127.0.0.1);
#   rustup: the aarch64-unknown-linux-gnu target;
#   .venv: the onnxruntime==1.31.1 wheel, whose libonnxruntime.so the `ort` backend loads (no CDN download).
# Re-running it changes nothing that is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
APT_PACKAGES=(mesa-vulkan-drivers libvulkan1 gcc-aarch64-linux-gnu libc6-arm64-cross qemu-user openssh-server openssh-client)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime's aarch64 library crashes in its CPU detection under Debian 12's qemu 7.2 and runs under qemu 10,
# which bookworm-backports has. The backports source is derived from this machine's own bookworm source (no mirror
# host is hard-coded). If it cannot be had, ONNX Runtime is reported unavailable under emulation, with the reason.
qemu_major=$(qemu-aarch64 --version 2>/dev/null | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -n1)
if [ "${qemu_major:-0}" -lt 10 ] && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  uri=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}';
           grep -hE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm +' /etc/apt/sources.list 2>/dev/null | sed -E 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/'; } | head -n1)
  if [ -n "$uri" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: qemu-user from bookworm-backports ($uri)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
      | $SUDO tee /etc/apt/sources.list.d/edgebench-backports.sources >/dev/null
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports qemu-user >/dev/null; }; then
      echo "setup: qemu from bookworm-backports could not be installed; ONNX Runtime will be reported unavailable under qemu"
    fi
  fi
fi

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: rustup target add aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: python3 -m venv .venv"
  python3 -m venv .venv
fi
if ! ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.${ORT_VERSION} >/dev/null 2>&1; then
  echo "setup: pip install onnxruntime==${ORT_VERSION} into .venv (only its shared library is used)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps "onnxruntime==${ORT_VERSION}"
fi
echo "setup: ok"

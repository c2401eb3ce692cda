#!/usr/bin/env bash
# Idempotent set-up of everything edgebench's build, tests and backends need on a Debian/Ubuntu machine.
# Every step prints what it does. A required step that fails names itself and exits non-zero; an optional step that
# cannot be done prints one line saying what is lost, and the script goes on. Re-running it changes nothing that is
# already in place.
#
# Required (the build, the cross link, the tests):
#   apt  mesa-vulkan-drivers libvulkan1      Mesa lavapipe (software Vulkan) + the loader, for wonnx
#        gcc-aarch64-linux-gnu               the aarch64 cross linker
#        libc6-arm64-cross libc6-dev-arm64-cross
#                                            the aarch64 C library and its crt files / libdl stubs (the linker needs
#                                            Scrt1.o, crti.o, -ldl; a Recommends of the cross gcc, so named here)
#        qemu-user                           runs the aarch64 runner in tests (emulated cells)
#        openssh-server openssh-client       the ssh runner is tested against a server on 127.0.0.1
#        the shellcheck linter               lints ci/*.sh in the test command
#        postgresql                          the history's PostgreSQL test runs against a real server
#                                            (ci/postgres.sh starts a throwaway one; nothing is started here)
#        python3-venv                        only when this python3 cannot make a venv with pip
#   rustup target aarch64-unknown-linux-gnu
#   .venv with onnxruntime==1.31.1           its libonnxruntime.so is what the `ort` backend loads (no CDN download)
#   .venv with ai-edge-litert==2.3.0         its libLiteRt.so is what the `litert` backends load (.tflite models)
#   .venv-openvino with onnxruntime-openvino==1.24.1 (x86_64 Linux, the platform of its wheels)
#                                            ONNX Runtime with the OpenVINO execution provider: `ort-openvino`
# Optional:
#   .venv-gpu with onnxruntime-gpu==1.31.1 (built for CUDA 13) and the nvidia-* CUDA 13 / tensorrt-cu13 10.x
#   wheels, only on x86_64 with an NVIDIA driver (nvidia-smi works): `ort-cuda`, `ort-tensorrt`. Elsewhere those backends report why they are
#   unavailable (no NVIDIA driver).
#   qemu-user >= 10 (bookworm: from bookworm-backports, derived from this machine's own Debian mirror). ONNX Runtime's
#   aarch64 library crashes in its CPU detection under qemu 7.2; without qemu 10 it is reported unavailable under
#   emulation, with that reason.
#
# EDGEBENCH_APT_ROOT (default /) is read for os-release and APT sources; tests point it at fixture trees.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/apt-sources.sh
. ci/lib/apt-sources.sh

ORT_VERSION=1.31.1
ORT_OPENVINO_VERSION=1.24.1
LITERT_VERSION=2.3.0
APT_ROOT=${EDGEBENCH_APT_ROOT:-/}
APT_PACKAGES=(mesa-vulkan-drivers libvulkan1 gcc-aarch64-linux-gnu libc6-arm64-cross libc6-dev-arm64-cross
  qemu-user openssh-server openssh-client shellcheck chromium postgresql)

step="start"
on_error() {
  local rc=$?
  echo "setup: FAILED (exit $rc) in required step: $step" >&2
  exit "$rc"
}
trap on_error ERR

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_update() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# The installed qemu-aarch64's major version, 0 when there is none.
qemu_major() {
  local v
  v=$({ qemu-aarch64 --version 2>/dev/null || true; } | sed -n 's/.*version \([0-9]*\).*/\1/p' | awk 'NR == 1')
  echo "${v:-0}"
}

step="python3 can make a venv"
venv_ok=1
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || venv_ok=""
if [ -z "$venv_ok" ]; then APT_PACKAGES+=(python3-venv); fi

step="node and npm for the browser test"
if ! command -v npm >/dev/null 2>&1; then APT_PACKAGES+=(nodejs npm); fi

step="apt packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: apt packages present (${APT_PACKAGES[*]})"
fi

step="qemu-user >= 10 (optional)"
lost="ONNX Runtime under qemu (pi4-qemu) will be reported unavailable; tract still runs there"
plan=$(qemu_plan "$(qemu_major)" "$APT_ROOT")
case "$plan" in
  ok)
    echo "setup: qemu-user $(qemu_major) present" ;;
  distro)
    echo "setup: qemu-user $(qemu_major) is this distribution's; not bookworm, so no backports are tried"
    if [ "$(qemu_major)" -lt 10 ]; then echo "setup: qemu < 10: $lost"; fi ;;
  no-backports)
    echo "setup: bookworm-backports cannot be derived (no Debian bookworm mirror in $APT_ROOT/etc/apt); $lost" ;;
  backports\ *)
    uri=${plan#backports }
    echo "setup: qemu-user from bookworm-backports ($uri, the mirror this machine already uses for bookworm)"
    if printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
         | $SUDO tee /etc/apt/sources.list.d/edgebench-backports.sources >/dev/null \
       && $SUDO apt-get update -qq \
       && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user >/dev/null; then
      echo "setup: qemu-user $(qemu_major) installed from bookworm-backports"
    else
      echo "setup: qemu-user from bookworm-backports could not be installed; $lost"
    fi ;;
esac

step="rustup target aarch64-unknown-linux-gnu"
if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: rustup target aarch64-unknown-linux-gnu present"
else
  echo "setup: rustup target add aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi

step="python venv .venv"
if [ -x .venv/bin/python ]; then
  echo "setup: .venv present"
else
  echo "setup: python3 -m venv .venv"
  python3 -m venv .venv
fi

step="onnxruntime==${ORT_VERSION} wheel into .venv"
if compgen -G ".venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}" >/dev/null; then
  echo "setup: onnxruntime ${ORT_VERSION} present in .venv"
else
  echo "setup: pip install onnxruntime==${ORT_VERSION} into .venv (only its shared library is used)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps "onnxruntime==${ORT_VERSION}"
fi

step="ai-edge-litert==${LITERT_VERSION} wheel into .venv"
if compgen -G ".venv/lib/python3*/site-packages/ai_edge_litert-${LITERT_VERSION}.dist-info" >/dev/null; then
  echo "setup: ai-edge-litert ${LITERT_VERSION} present in .venv"
else
  echo "setup: pip install ai-edge-litert==${LITERT_VERSION} into .venv (only its libLiteRt.so and GPU accelerator are used)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps "ai-edge-litert==${LITERT_VERSION}"
fi

step="onnxruntime-openvino==${ORT_OPENVINO_VERSION} wheel into .venv-openvino"
if [ "$(uname -m)" != x86_64 ]; then
  echo "setup: onnxruntime-openvino has no wheel for $(uname -m): ort-openvino will say so"
elif compgen -G ".venv-openvino/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime_providers_openvino.so" >/dev/null; then
  echo "setup: onnxruntime-openvino ${ORT_OPENVINO_VERSION} present in .venv-openvino"
else
  [ -x .venv-openvino/bin/python ] || python3 -m venv .venv-openvino
  echo "setup: pip install onnxruntime-openvino==${ORT_OPENVINO_VERSION} into .venv-openvino (ONNX Runtime and OpenVINO's libraries are used)"
  .venv-openvino/bin/python -m pip install --disable-pip-version-check -q --no-deps "onnxruntime-openvino==${ORT_OPENVINO_VERSION}"
fi

step="optional: onnxruntime-gpu into .venv-gpu (NVIDIA machines only)"
if [ "$(uname -m)" = x86_64 ] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  if compgen -G ".venv-gpu/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime_providers_cuda.so" >/dev/null; then
    echo "setup: onnxruntime-gpu ${ORT_VERSION} present in .venv-gpu"
  else
    [ -x .venv-gpu/bin/python ] || python3 -m venv .venv-gpu
    echo "setup: pip install onnxruntime-gpu==${ORT_VERSION} with its CUDA and TensorRT wheels into .venv-gpu"
    .venv-gpu/bin/python -m pip install --disable-pip-version-check -q "onnxruntime-gpu[cuda,cudnn]==${ORT_VERSION}" nvidia-cublas "tensorrt-cu13==10.16.1.11" \
      || echo "setup: onnxruntime-gpu could not be installed: ort-cuda and ort-tensorrt will say why they are unavailable"
  fi
else
  echo "setup: no NVIDIA GPU here (nvidia-smi): onnxruntime-gpu not installed; ort-cuda and ort-tensorrt report that"
fi

step="playwright-core (npm) for the browser test of the HTML report"
if [ -f ci/browser/node_modules/playwright-core/package.json ]; then
  echo "setup: playwright-core present in ci/browser/node_modules"
else
  echo "setup: npm install playwright-core into ci/browser (it drives /usr/bin/chromium; no browser is downloaded)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix ci/browser --no-audit --no-fund --loglevel=error >/dev/null
fi

step="done"
echo "setup: ok"

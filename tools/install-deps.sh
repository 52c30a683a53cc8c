#!/usr/bin/env bash
# Installs the Debian packages Tilefuse builds against. Idempotent; needs root (or sudo).
# The CUDA Toolkit is not a Debian package: it is expected at $CUDAToolkit_ROOT or /usr/local/cuda.
set -euo pipefail
pkgs=(libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools libfmt-dev libcli11-dev
      nlohmann-json3-dev catch2 ninja-build cmake g++)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cuda="${CUDAToolkit_ROOT:-/usr/local/cuda}"
if [ ! -f "$cuda/include/nvrtc.h" ] || [ ! -f "$cuda/include/cuda.h" ]; then
  echo "install-deps: the CUDA Toolkit was not found at $cuda (need include/nvrtc.h and include/cuda.h)." >&2
  echo "  Install NVIDIA's CUDA Toolkit (12 or newer) and set CUDAToolkit_ROOT to it." >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs the Debian packages Tilefuse builds against. Idempotent; needs root (or sudo).
# The CUDA Toolkit is not a Debian package: it is expected at $CUDAToolkit_ROOT or /usr/local/cuda.
#
# --fuzz: also clang-19 and its runtimes (libFuzzer, ASan, UBSan) for tools/fuzz.sh.
# --python: also makes the Python environment of the Python package's tests, a venv at
# ${TILEFUSE_VENV:-$HOME/.cache/tilefuse/venv} with PyTorch (PyPI's Linux wheel: about 4.7 GB with its
# CUDA libraries, 3.5 minutes the first time here), pytest, numpy and scikit-build-core (so that
# tools/test.sh can `pip install .` without build isolation); prints nothing when it is there. Exit status 3 when it cannot be made (no network, no wheel for this Python).
set -euo pipefail
python=0
pkgs=(libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools libfmt-dev libcli11-dev
      nlohmann-json3-dev catch2 ninja-build cmake g++ python3-venv)
case "${1:-}" in
  --python) python=1 ;;
  --fuzz) pkgs+=(clang-19 libclang-rt-19-dev) ;;
esac
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

if ((python)); then
  venv="${TILEFUSE_VENV:-$HOME/.cache/tilefuse/venv}"
  torch_req="${TILEFUSE_TORCH:-torch==2.11.*}"  # the version of the GPU machine
  if ! "$venv/bin/python" -c "import torch, pytest, scikit_build_core" 2>/dev/null; then
    echo "install-deps: making $venv with $torch_req, pytest, numpy, scikit-build-core"
    python3 -m venv "$venv" || exit 3
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$torch_req" pytest numpy \
      "scikit-build-core>=0.10" || exit 3
  fi
fi

#!/usr/bin/env bash
# Sourced by the device scripts (device-bench.sh, device-cache-load.sh) on the GPU machine, from the
# repository root: copies the bundle of tools/device-bundle.sh (.device-carry/bundle) to $1,
# decompresses its libraries and points the environment at it (the machine has CUDA but no MLIR):
#   LD_LIBRARY_PATH           the bundle's libraries, then CUDA's
#   TILEFUSE_DEVICE_INCLUDE   the bundle's device library (NVRTC's -I)
#   TILEFUSE_SPECS_DIR        the bundle's specs
#   TILEFUSE_CUDA_INCLUDE     /usr/local/cuda/include when present
# usage: source tools/device-unpack.sh /tmp/some-dir
work=$1
rm -rf "$work" && cp -r "$PWD/.device-carry/bundle" "$work"
find "$work" -name '*.xz' -print0 | xargs -0 -r -n1 -P8 xz -d
chmod +x "$work"/bin/*
export LD_LIBRARY_PATH="$work/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export TILEFUSE_DEVICE_INCLUDE="$work/device"
export TILEFUSE_SPECS_DIR="$work/specs"
if [ -d /usr/local/cuda/include ]; then export TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include; fi

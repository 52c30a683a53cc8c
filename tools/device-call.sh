# The start of a device call's script (docs/results/*/scripts/cN.sh), sourced from the repository root on the GPU
# machine: CUDA on PATH, the call's clock and budget, $OUT, and the card's line in $OUT/gpu.txt.
#   source tools/device-call.sh LIMIT DEFAULT_OUT
# LIMIT: the seconds the script may take; after it, left() prints the seconds left of them. $OUT (what the device
# tool brings back) defaults to DEFAULT_OUT.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=$1
left() { echo $((limit - (SECONDS - T0))); }
OUT=${OUT:-$2}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"

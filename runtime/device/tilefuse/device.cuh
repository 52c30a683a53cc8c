// Tilefuse device library, everything: include this from generated kernels (NVRTC: -I<runtime/device>
// -I<cuda>/include). Types (types.cuh) are apart from ops, which are scoped by executor:
// warp:: (one warp) and group<N_WARPS>:: (N cooperating warps); raw instructions live in arch/.
#pragma once
#include "device/common.cuh"
#include "device/types.cuh"
#include "device/arch/sm80_copy.cuh"
#include "device/arch/sm80_math.cuh"
#include "device/arch/sm80_mma.cuh"
#include "device/group/copy.cuh"
#include "device/group/pipeline.cuh"
#include "device/warp/elementwise.cuh"
#include "device/warp/load_store.cuh"
#include "device/warp/mma.cuh"
#include "device/warp/mma_smem.cuh"
#include "device/warp/reduce.cuh"
#include "device/warp/scan.cuh"
#include "device/warp/softmax.cuh"

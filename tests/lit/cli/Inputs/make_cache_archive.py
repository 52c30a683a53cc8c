"""Writes a Tilefuse cache archive (tilefuse cache export's format, tuner/README.md) with three
synthetic entries for the toolchain that `tilefuse cache ls --json` reports, so that the lit tests
of `tilefuse cache` have entries without a GPU to tune on.

usage: make_cache_archive.py LS_JSON OUT
"""
import base64
import hashlib
import json
import sys

now = json.load(open(sys.argv[1]))


def entry(gpu, cc, sms, spec, spec_hash, seq, sched, ms):
    bucket = {"B": 1, "Hq": 32, "Hkv": 8, "Sq": seq, "Sk": seq, "D": 128, "Dv": 128}
    cubin = hashlib.sha256((gpu + spec + str(seq)).encode()).digest() * 64  # 2 KiB of "code"
    schedule = {"block_m": sched[0], "block_n": sched[1], "warps": sched[2], "kv_stages": sched[3],
                "mma": "mma_sync_m16n8k16", "q": "registers"}
    return {
        "format": "tilefuse-cache-entry",
        "format_version": 2,
        "key": {"gpu": gpu, "cc": cc, "sm_count": sms, "driver": now["driver"], "nvrtc": now["nvrtc"],
                "tilefuse": now["tilefuse"], "bucket_rule": now["bucket_rule"], "spec": spec,
                "spec_hash": spec_hash, "dtype": "bf16", "shape_bucket": bucket},
        "schedule": schedule,
        "tuning": {"tuned_shape": bucket, "median_ms": ms, "tflops": 1.1e15 / (ms * 1e-3) / 1e12,
                   "default_ms": ms * 1.25,
                   "default_schedule": {"block_m": 128, "block_n": 64, "warps": 8, "kv_stages": 2,
                                        "mma": "mma_sync_m16n8k16", "q": "registers"},
                   "useful_flops": 1.1e15, "flops_rule": "tiles", "tuning_seconds": 21.5,
                   "candidates_timed": 20, "candidates_pruned": 560, "candidates_failed": 0,
                   "registers": 168, "spill_bytes": 0, "created_at": "2025-01-01T00:00:00Z"},
        "launch": {"kernel_name": "tilefuse_" + spec, "threads_per_block": 32 * sched[2],
                   "dynamic_smem_bytes": 98304,
                   "grid": {"x": {"size": "Sq", "divisor": sched[0]}, "y": {"size": "Hq", "divisor": 1},
                            "z": {"size": "B", "divisor": 1}, "persistent": False},
                   "params": {"tensors": [], "fields": [], "bytes": 0}},
        "cubin": {"bytes": len(cubin), "sha256": hashlib.sha256(cubin).hexdigest(),
                  "base64": base64.b64encode(cubin).decode()},
    }


entries = [
    entry("NVIDIA H100 80GB HBM3", "9.0", 132, "llama3_8b_prefill", "1111111111111111", 8192, (128, 64, 8, 2), 1.9),
    entry("NVIDIA H100 80GB HBM3", "9.0", 132, "mistral_7b_prefill", "2222222222222222", 16384, (128, 128, 8, 2), 2.7),
    entry("NVIDIA A100-SXM4-80GB", "8.0", 108, "llama3_8b_prefill", "1111111111111111", 8192, (64, 64, 4, 2), 5.2),
]
with open(sys.argv[2], "w") as f:
    f.write(json.dumps({"format": "tilefuse-cache-archive", "format_version": 1, "tilefuse": now["tilefuse"],
                        "entries": len(entries)}) + "\n")
    for e in entries:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")

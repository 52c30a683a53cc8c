"""Writes hostile cache inputs for cache-hardening.test (issue 14) into DIR:

  traversal.tfcache   an archive whose entry's spec_hash is "x/../../../../escaped"
  deep.tfcache        an archive whose entry's schedule is nested 10^5 levels deep
  deep-entry.json     an entry file (right name pattern) with that schedule
  good.tfcache        an archive with one valid entry (spec_hash 3333333333333333)

usage: hostile_cache.py DIR
"""
import base64
import hashlib
import json
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def entry(spec_hash, schedule_text=None):
    bucket = {"B": 1, "Hq": 32, "Hkv": 8, "Sq": 8192, "Sk": 8192, "D": 128, "Dv": 128}
    cubin = hashlib.sha256(spec_hash.encode()).digest() * 8
    sched = {"block_m": 128, "block_n": 64, "warps": 8, "kv_stages": 2, "mma": "mma_sync_m16n8k16",
             "q": "registers"}
    e = {"format": "tilefuse-cache-entry", "format_version": 2,
         "key": {"gpu": "NVIDIA H100 80GB HBM3", "cc": "9.0", "sm_count": 132, "driver": 0,
                 "nvrtc": "0", "tilefuse": "0", "bucket_rule": "x", "spec": "evil",
                 "spec_hash": spec_hash, "dtype": "bf16", "shape_bucket": bucket},
         "schedule": sched,
         "tuning": {"tuned_shape": bucket, "median_ms": 1.5, "tflops": 100.0, "default_ms": 2.0,
                    "default_schedule": sched, "useful_flops": 1e12, "flops_rule": "tiles",
                    "tuning_seconds": 1.0, "candidates_timed": 1, "candidates_pruned": 0,
                    "candidates_failed": 0, "registers": 128, "spill_bytes": 0,
                    "created_at": "2025-01-01T00:00:00Z"},
         "launch": {"kernel_name": "k", "threads_per_block": 256, "dynamic_smem_bytes": 1024,
                    "grid": {"x": {"size": "Sq", "divisor": 128}, "y": {"size": "Hq", "divisor": 1},
                             "z": {"size": "B", "divisor": 1}, "persistent": False},
                    "params": {"tensors": [], "fields": [], "bytes": 0}},
         "cubin": {"bytes": len(cubin), "sha256": hashlib.sha256(cubin).hexdigest(),
                   "base64": base64.b64encode(cubin).decode()}}
    text = json.dumps(e)
    if schedule_text is not None:
        text = text.replace(json.dumps(sched), schedule_text, 1)
    return text


header = json.dumps({"format": "tilefuse-cache-archive", "format_version": 1, "tilefuse": "0",
                     "entries": 1})
deep = "[" * 100000 + "]" * 100000


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


write("traversal.tfcache", header + "\n" + entry("x/../../../../escaped") + "\n")
write("deep.tfcache", header + "\n" + entry("4444444444444444", deep) + "\n")
write("deep-entry.json", entry("4444444444444444", deep) + "\n")
write("good.tfcache", header + "\n" + entry("3333333333333333") + "\n")

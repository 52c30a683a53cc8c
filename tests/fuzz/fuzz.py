#!/usr/bin/env python3
"""The command-line tools run on mutated inputs, as a careless or hostile user would run them.

The coverage-guided fuzzing of each input language in-process is libFuzzer's (tests/fuzz/targets,
tools/fuzz.sh); this checks the tools' contract with their caller, which those targets do not see.

Seeds are the shipped files: specs/*.json and specs/models/*.json (spec JSON), the score_mod /
mask_mod strings inside them (the expression language), the block programs under tests/lit
(.mlir, through tilefuse-opt) and a synthetic cache archive (tilefuse cache import). Each input is
a seed with a few random mutations (byte edits, splices, JSON-aware edits that put huge, negative,
fractional, escaped, non-UTF-8 or deeply nested values into fields). Every run of a tool must:

  * end by itself within --timeout seconds (no hang),
  * not die of a signal (no crash, no abort),
  * exit 0 only with valid output (non-empty; JSON that parses when --json was given),
  * exit non-zero only with a message on stderr,
  * leave nothing outside its scratch directory (cache import).

usage: fuzz.py --bin-dir BUILD/bin --src SRC [--count N] [--seed S] [--jobs J] [--timeout T]
Exits 1 and prints every failing input (saved under --keep DIR) when any check fails.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

INTERESTING_NUMBERS = [0, -1, 1, 2, 3, 7, 64, 127, 128, 4095, 65536, 2**31 - 1, 2**31, 2**32 + 64,
                       4294967424, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30, 1e308,
                       -1e308, 1e-320, 0.5, 1.5, float("inf")]
TOKENS = ["{", "}", "[", "]", ",", ":", '"', "\\", "\\u0000", "\\u005f", "\\ud800", "\xff", "\xc3",
          "1e999", "-0", "null", "true", "NaN", "+", " + 0.0", "((", "))", "?", "//", "%", "&&",
          "score", "q_idx", "kv_idx", "Sq", "Sk", "where(", "tanh(", "inf", "-inf", "9" * 30]
EXPR_ATOMS = ["score", "q_idx", "kv_idx", "b", "h", "Sq", "Sk", "B", "Hq", "Hkv", "1", "0",
              "0.5", "1e308", "inf", "-1", "2147483648", "9223372036854775807",
              "99999999999999999999", "true", "false", "bias[h, q_idx]", "undefined_name"]
EXPR_OPS = [" + ", " - ", " * ", " / ", " // ", " % ", " < ", " <= ", " == ", " != ", " && ",
            " || "]
# The sm90 backend with every Prepare rule on (the tail guard, the scale, the lazy running max).
SM90_LAZY = ('{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"registers","overlap":"pingpong",'
             '"lazy_rescale":true}')
# Its persistent grid with paired Q tiles (q_tile_order = paired), the tuner's causal twin.
SM90_PAIRED = SM90_LAZY[:-1] + ',"persistent":true,"q_tile_order":"paired"}'
# Its grid of one block per Q tile with the longest first (q_tile_order = lpt), the tuner's other causal twin.
SM90_LPT = SM90_LAZY[:-1] + ',"q_tile_order":"lpt"}'
# Its persistent grid dealt back and forth (q_tile_order = snake).
SM90_SNAKE = SM90_LAZY[:-1] + ',"persistent":true,"q_tile_order":"snake"}'
# Its persistent grid with the dynamic tile scheduler (q_tile_order = dynamic).
SM90_DYNAMIC = SM90_LAZY[:-1] + ',"persistent":true,"q_tile_order":"dynamic"}'
OPT_PASSES = ["--tilefuse-fuse", "--tilefuse-classify-tiles", "--tilefuse-fuse-kernels",
              "--tilefuse-defer-normalization", "--tilefuse-tile", "--tilefuse-online-normalization",
              "--tilefuse-fuse-loops", "--tilefuse-place", "--tilefuse-io-report", ""]


def deep(depth, leaf):
    return "[" * depth + leaf + "]" * depth


def mutate_bytes(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a token
            data[pos:pos] = rng.choice(TOKENS).encode("utf-8", "surrogateescape")
        elif op == 2 and data:  # delete a range
            end = min(len(data), pos + rng.randint(1, 16))
            del data[pos:end]
        elif op == 3 and data:  # duplicate a range
            end = min(len(data), pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end]
        elif op == 4:  # insert a number
            data[pos:pos] = str(rng.choice(INTERESTING_NUMBERS)).encode()
        else:  # a raw non-UTF-8 byte
            data[pos:pos] = bytes([rng.choice([0xff, 0xc3, 0x80, 0xfe])])
    return bytes(data)


def random_value(rng, depth=0):
    r = rng.randrange(10)
    if r < 4:
        return rng.choice(INTERESTING_NUMBERS)
    if r < 6:
        return rng.choice(["", "bf16", "fp16", "fp8", "caus\udcc3al", "x/../../escaped",
                           "a" * 300, "score", "\u0000"])
    if r == 6:
        return None
    if r == 7:
        return rng.choice([True, False])
    if r == 8 and depth < 3:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {}


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def set_path(root, path, value):
    if not path:
        return value
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return root


def random_expr(rng, size):
    if size <= 1:
        return rng.choice(EXPR_ATOMS)
    r = rng.randrange(5)
    if r == 0:
        return "(" + random_expr(rng, size - 1) + ")"
    if r == 1:
        return rng.choice(["-", "!"]) + random_expr(rng, size - 1)
    if r == 2:
        return rng.choice(["tanh", "exp", "log", "abs", "sqrt"]) + "(" + random_expr(rng, size - 1) + ")"
    left = rng.randint(1, size - 1)
    return random_expr(rng, left) + rng.choice(EXPR_OPS) + random_expr(rng, size - left)


def mutate_json(rng, text):
    """JSON-aware edits; returns text (which may then get byte edits too)."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return text
    for _ in range(rng.randint(1, 3)):
        all_paths = list(paths(doc))
        path = rng.choice(all_paths)
        r = rng.randrange(6)
        if r == 0 and path:
            set_path(doc, path, random_value(rng))
        elif r == 1 and path:
            # Python's json cannot build it: a placeholder, replaced in the text below.
            set_path(doc, path, "@@DEEP%d@@" % rng.choice([5, 70, 1000, 100000]))
        elif r == 2 and isinstance(doc, dict):
            doc[rng.choice(["score_mod", "mask_mod"])] = random_expr(rng, rng.randint(1, 12))
        elif r == 3 and isinstance(doc, dict):
            chain = " + 0.0" * rng.choice([10, 250, 17000])
            doc["score_mod"] = "score" + chain
        elif r == 4 and path and isinstance(doc, dict):
            doc.pop(rng.choice(list(doc.keys())), None)
        else:
            pass
    out = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    while "\"@@DEEP" in out:
        start = out.index("\"@@DEEP")
        end = out.index("@@\"", start + 7)
        out = out[:start] + deep(int(out[start + 7:end]), "1") + out[end + 3:]
    if rng.random() < 0.2 and isinstance(doc, dict) and doc and out.endswith("}"):
        # An escaped duplicate key.
        key = rng.choice(list(doc.keys()))
        if key:
            esc = "\\u%04x" % ord(key[0]) + key[1:]
            out = out[:-1] + ', "' + esc + '": ' + json.dumps(random_value(rng)) + "}"
    return out


def spec_case(rng, seeds):
    name, text = rng.choice(seeds["spec"])
    text = mutate_json(rng, text) if rng.random() < 0.7 else text
    data = text.encode("utf-8", "surrogateescape")
    if rng.random() < 0.5:
        data = mutate_bytes(rng, data)
    cmd = rng.choice([["lower"], ["lower", "--json"], ["fuse"], ["emit", "--format", "cuda"],
                      ["emit", "--json"]] * 5 + [["run", "--no-ir", "--seed", "1", "--json"]] +
                     [["emit", "--arch", "sm_90", "--schedule", SM90_LAZY]] * 2 +
                     [["emit", "--arch", "sm_90", "--schedule", SM90_PAIRED]] +
                     [["emit", "--arch", "sm_90", "--schedule", SM90_LPT]] +
                     [["emit", "--arch", "sm_90", "--schedule", SM90_SNAKE]] +
                     [["emit", "--arch", "sm_90", "--schedule", SM90_DYNAMIC]])
    flags = []
    if rng.random() < 0.3:
        flag = rng.choice(["--B", "--Hq", "--Hkv", "--Sq", "--Sk", "--S", "--D", "--Dv"])
        flags = [flag, str(rng.choice(INTERESTING_NUMBERS[:20]))]
    return {"kind": "spec", "seed": name, "file": ("spec.json", data), "argv": ["tilefuse"] + cmd +
            ["{file}"] + flags, "json": "--json" in cmd}


def expr_case(rng, seeds):
    name, text = rng.choice(seeds["spec"])
    doc = json.loads(text)
    exprs = seeds["expr"]
    e = rng.choice(exprs) if rng.random() < 0.5 else random_expr(rng, rng.randint(1, 20))
    e = mutate_bytes(rng, e.encode()).decode("utf-8", "surrogateescape") if rng.random() < 0.5 else e
    doc[rng.choice(["score_mod", "mask_mod"])] = e
    data = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogateescape")
    # Mostly parse and check (lower); sometimes evaluate too (run: the fp64 interpreter and the
    # reference evaluate the expressions at a small shape).
    r = rng.random()
    cmd = (["run", "--no-ir", "--seed", "1"] if r < 0.1 else
           ["emit", "--arch", "sm_90", "--schedule", SM90_LAZY] if r < 0.2 else ["lower"])
    return {"kind": "expr", "seed": name, "file": ("spec.json", data),
            "argv": ["tilefuse"] + cmd + ["{file}"], "json": False}


def mlir_case(rng, seeds):
    name, text = rng.choice(seeds["mlir"])
    data = mutate_bytes(rng, text.encode()) if rng.random() < 0.8 else text.encode()
    if rng.random() < 0.03:  # deep nesting: regions or parenthesised types
        n = rng.choice([300, 5000, 100000])
        pos = rng.randrange(len(data) + 1)
        data = data[:pos] + rng.choice([b"{", b"(", b"scf.execute_region {\n"]) * n + data[pos:]
    p = rng.choice(OPT_PASSES)
    return {"kind": "mlir", "seed": name, "file": ("in.mlir", data),
            "argv": ["tilefuse-opt", "{file}"] + ([p] if p else []), "json": False}


def archive_case(rng, seeds):
    lines = seeds["archive"].splitlines()
    i = rng.randrange(1, len(lines))
    line = lines[i]
    if rng.random() < 0.7:
        line = mutate_json(rng, line)
    if rng.random() < 0.3:
        doc = json.loads(lines[i])
        doc["key"]["spec_hash"] = rng.choice(["x/../../../../escaped", "../x", "", "g" * 16, "a" * 16])
        line = json.dumps(doc)
    data = mutate_bytes(rng, line.encode("utf-8", "surrogateescape")) if rng.random() < 0.3 else \
        line.encode("utf-8", "surrogateescape")
    archive = (lines[0] + "\n").encode() + data + b"\n"
    action = rng.choice([["import", "{file}"], ["import", "{file}", "--json"]])
    return {"kind": "archive", "seed": "archive line %d" % i, "file": ("a.tfcache", archive),
            "argv": ["tilefuse", "cache"] + action, "json": "--json" in action, "cache": True}


def run_case(case, bin_dir, timeout, scratch_root):
    work = tempfile.mkdtemp(dir=scratch_root)
    try:
        fname, data = case["file"]
        path = os.path.join(work, fname)
        with open(path, "wb") as f:
            f.write(data)
        argv = [a.replace("{file}", path) for a in case["argv"]]
        argv[0] = os.path.join(bin_dir, argv[0])
        env = dict(os.environ)
        cache = os.path.join(work, "cache")
        env["TILEFUSE_CACHE_DIR"] = cache
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired:
            return "hang (over %g s)" % timeout
        if p.returncode < 0 or p.returncode >= 128:
            return "signal/crash (exit %d): %s" % (p.returncode, p.stderr.decode(errors="replace")[-300:])
        if p.returncode != 0 and not p.stderr.strip():
            return "exit %d without a message" % p.returncode
        if p.returncode == 0:
            if not p.stdout.strip() and not case.get("cache"):
                return "exit 0 with no output"
            if case["json"]:
                try:
                    json.loads(p.stdout)
                except ValueError:
                    return "exit 0 with --json but stdout is not JSON"
        elif case["json"] and case["argv"][0] == "tilefuse":
            try:
                j = json.loads(p.stdout)
                if "error" not in j and not j.get("problems"):
                    return "--json error without an 'error' field or 'problems'"
            except ValueError:
                return "--json error did not print a JSON object on stdout"
        if case.get("cache"):
            # Nothing may be written outside the cache directory (and the input file).
            for dirpath, _, files in os.walk(work):
                for fn in files:
                    full = os.path.join(dirpath, fn)
                    if full != path and not full.startswith(cache + os.sep):
                        return "wrote a file outside the cache directory: " + full
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_seeds(src):
    seeds = {"spec": [], "expr": [], "mlir": []}
    for d in ["specs", "specs/models", "tests/lit/cli/Inputs"]:
        for fn in sorted(os.listdir(os.path.join(src, d))):
            if fn.endswith(".json"):
                text = open(os.path.join(src, d, fn), encoding="utf-8").read()
                seeds["spec"].append((d + "/" + fn, text))
                try:
                    doc = json.loads(text)
                    for k in ["score_mod", "mask_mod"]:
                        if isinstance(doc.get(k), str):
                            seeds["expr"].append(doc[k])
                except ValueError:
                    pass
    seeds["spec"] = [s for s in seeds["spec"] if s[0].startswith("specs")]
    for root, _, files in os.walk(os.path.join(src, "tests/lit")):
        for fn in sorted(files):
            if fn.endswith(".mlir"):
                full = os.path.join(root, fn)
                text = open(full, encoding="utf-8").read()
                # Split-input files: one chunk per seed.
                for chunk in text.split("// -----"):
                    if "blk." in chunk and len(chunk) < 20000:
                        seeds["mlir"].append((os.path.relpath(full, src), chunk))
    seeds["archive"] = make_archive()
    return seeds


def make_archive():
    def entry(spec, spec_hash):
        bucket = {"B": 1, "Hq": 32, "Hkv": 8, "Sq": 8192, "Sk": 8192, "D": 128, "Dv": 128}
        cubin = hashlib.sha256(spec.encode()).digest() * 8
        sched = {"block_m": 128, "block_n": 64, "warps": 8, "kv_stages": 2,
                 "mma": "mma_sync_m16n8k16", "q": "registers"}
        return {"format": "tilefuse-cache-entry", "format_version": 1,
                "key": {"gpu": "NVIDIA H100 80GB HBM3", "cc": "9.0", "sm_count": 132, "driver": 0,
                        "nvrtc": "13.0", "tilefuse": "0", "bucket_rule": "x", "spec": spec,
                        "spec_hash": spec_hash, "dtype": "bf16", "shape_bucket": bucket},
                "schedule": sched,
                "tuning": {"tuned_shape": bucket, "median_ms": 1.5, "tflops": 100.0,
                           "default_ms": 2.0, "default_schedule": sched, "useful_flops": 1e12,
                           "flops_rule": "tiles", "tuning_seconds": 1.0, "candidates_timed": 1,
                           "candidates_pruned": 0, "candidates_failed": 0, "registers": 128,
                           "spill_bytes": 0, "created_at": "2025-01-01T00:00:00Z"},
                "launch": {"kernel_name": "k", "threads_per_block": 256, "dynamic_smem_bytes": 1024,
                           "grid": {"x": {"size": "Sq", "divisor": 128},
                                    "y": {"size": "Hq", "divisor": 1},
                                    "z": {"size": "B", "divisor": 1}},
                           "params": {"tensors": [], "fields": [], "bytes": 0}},
                "cubin": {"bytes": len(cubin), "sha256": hashlib.sha256(cubin).hexdigest(),
                          "base64": base64.b64encode(cubin).decode()}}
    header = {"format": "tilefuse-cache-archive", "format_version": 1, "tilefuse": "0", "entries": 2}
    return "\n".join([json.dumps(header), json.dumps(entry("causal", "1111111111111111")),
                      json.dumps(entry("mha", "abcdef0123456789"))]) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--keep", default="", help="save failing inputs here")
    ap.add_argument("--kinds", default="spec,expr,mlir,archive",
                    help="input kinds to make, comma-separated (mlir alone needs only tilefuse-opt)")
    args = ap.parse_args()

    seeds = load_seeds(args.src)
    rng = random.Random(args.seed)
    makers = [(spec_case, 4, "spec"), (expr_case, 3, "expr"), (mlir_case, 3, "mlir"),
              (archive_case, 1, "archive")]
    kinds = args.kinds.split(",")
    unknown = [k for k in kinds if k not in [name for _, _, name in makers]]
    if unknown:
        ap.error("--kinds: unknown kind(s) %s; expected some of spec, expr, mlir, archive"
                 % ", ".join(unknown))
    pool = [m for m, w, name in makers if name in kinds for _ in range(w)]
    cases = [rng.choice(pool)(rng, seeds) for _ in range(args.count)]
    scratch = tempfile.mkdtemp(prefix="tilefuse-fuzz-")
    start = time.time()
    failures = []
    counts = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = ex.map(lambda c: run_case(c, args.bin_dir, args.timeout, scratch), cases)
        for i, (case, problem) in enumerate(zip(cases, results)):
            counts[case["kind"]] = counts.get(case["kind"], 0) + 1
            if problem:
                failures.append((i, case, problem))
    shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.time() - start
    print("fuzz: %d inputs (%s), seed %d, %.1f s, %d failure(s)" % (
        len(cases), ", ".join("%s %d" % kv for kv in sorted(counts.items())), args.seed, elapsed,
        len(failures)))
    kinds = {}
    for _, case, problem in failures:
        key = "%s: %s" % (case["kind"], problem.split(":")[0][:60])
        kinds[key] = kinds.get(key, 0) + 1
    for key, n in sorted(kinds.items()):
        print("  %5d  %s" % (n, key))
    for i, case, problem in failures[:50]:
        print("FAIL #%d [%s from %s] %s: %s" % (i, case["kind"], case["seed"], " ".join(case["argv"]),
                                                problem))
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            with open(os.path.join(args.keep, "case%d-%s" % (i, case["file"][0])), "wb") as f:
                f.write(case["file"][1])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

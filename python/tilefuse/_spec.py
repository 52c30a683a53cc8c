"""Spec JSON (specs/README.md) for the Python entry points.

``flex_spec`` turns a traced score_mod / mask_mod (``_trace.trace``) and the tensors' sizes into a
spec; ``flash_attn_spec`` writes flash-attn 2's options (causal, window, softcap, ALiBi) as a spec;
``load_spec`` reads a user's spec (a path, a shipped spec's name, a dict or JSON text). All return
compact JSON text, the form tilefuse_get_kernel_json takes and the kernel cache is keyed by.
"""

from __future__ import annotations

import functools
import json
import math
import os
from typing import Optional, Sequence

import torch

from ._trace import Capture

DTYPES = {torch.bfloat16: "bf16", torch.float16: "fp16"}

# The default problem size a spec must carry; every call overrides all of it (tilefuse_shape_t).
_DEFAULT_SHAPE = {"B": 1, "Sq": 128, "Sk": 128}


def _base(name: str, dtype: torch.dtype, D: int, Dv: int, Hq: int, Hkv: int, scale: Optional[float],
          lse: bool) -> dict:
    spec = {"name": name, "dtype": DTYPES[dtype], "head_dim": D, "heads": {"q": Hq, "kv": Hkv},
            "lse": lse, "shape": dict(_DEFAULT_SHAPE)}
    if Dv != D:
        spec["value_dim"] = Dv
    if scale is not None:
        spec["scale"] = float(scale)
    return spec


def dumps(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)


def flex_spec(score_mod: Optional[str], mask_mod: Optional[str], captures: Sequence[Capture],
              dtype: torch.dtype, D: int, Dv: int, Hq: int, Hkv: int, scale: Optional[float],
              lse: bool) -> str:
    """The spec of a traced flex_attention call. Capture shapes are written as integers (the
    trace is cached per capture shape), so the spec is valid only for tensors of those shapes."""
    spec = _base("flex_attention", dtype, D, Dv, Hq, Hkv, scale, lse)
    if score_mod is not None:
        spec["score_mod"] = score_mod
    if mask_mod is not None:
        spec["mask_mod"] = mask_mod
    if captures:
        spec["captures"] = {c.name: {"shape": list(c.shape), "dtype": c.dtype} for c in captures}
    return dumps(spec)


@torch.compiler.assume_constant_result  # Dynamo calls it while tracing: the JSON is a constant
def flash_attn_spec(dtype: torch.dtype, D: int, Dv: int, Hq: int, Hkv: int, scale: float, causal: bool,
                    window: tuple, softcap: float, alibi: Optional[tuple]) -> str:
    """flash_attn_func's spec (see _flash_attn_spec), memoized."""
    return _flash_attn_spec(dtype, D, Dv, Hq, Hkv, scale, causal, window, softcap, alibi)


@functools.lru_cache(maxsize=1024)
def _flash_attn_spec(dtype: torch.dtype, D: int, Dv: int, Hq: int, Hkv: int, scale: float, causal: bool,
                    window: tuple, softcap: float, alibi: Optional[tuple]) -> str:
    """flash-attn 2's forward as a spec (Dao 2023; flash_attn_interface.flash_attn_func):

    * query i sits at key position i + Sk - Sq (bottom-right alignment);
    * causal: keys j <= i + Sk - Sq; window (left, right), -1 = unbounded: i + Sk - Sq - left <= j
      <= i + Sk - Sq + right (causal sets right = 0);
    * softcap > 0: score = softcap * tanh(score / softcap) on the scaled score;
    * ALiBi slopes of shape (Hq,) or (B, Hq), fp32: score += -slope * |i + Sk - Sq - j|, after the
      softcap.

    ``alibi`` is the slopes' shape or None.
    """
    spec = _base("flash_attn", dtype, D, Dv, Hq, Hkv, scale, False)
    pos = "(q_idx + Sk - Sq)"
    left, right = window
    if causal:
        right = 0
    terms = []
    if left >= 0:
        terms.append(f"kv_idx >= {pos} - {int(left)}")
    if right >= 0:
        terms.append(f"kv_idx <= {pos} + {int(right)}")
    if terms:
        spec["mask_mod"] = " && ".join(terms)
    score = "score"
    if softcap > 0:
        c = repr(float(softcap))
        score = f"{c} * tanh(score / {c})"
    if alibi is not None:
        slope = "alibi_slopes[h]" if len(alibi) == 1 else "alibi_slopes[b, h]"
        score = f"{score} - {slope} * abs({pos} - kv_idx)"
        spec["captures"] = {"alibi_slopes": {"shape": list(alibi), "dtype": "f32"}}
    if score != "score":
        spec["score_mod"] = score
    return dumps(spec)


_SPECS_DIRS = (
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "share", "tilefuse", "specs"),  # installed
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "specs"),             # source tree
)


def shipped_spec_path(name: str) -> Optional[str]:
    """The path of a shipped spec ("causal", "models/llama3_8b_prefill"), or None."""
    for d in _SPECS_DIRS:
        p = os.path.join(d, name + ".json")
        if os.path.isfile(p):
            return os.path.normpath(p)
    return None


_file_cache = {}
_resolved = {}  # spec argument -> the file load_spec read for it (a file the caller named)
_shipped = {}  # spec argument -> (path, mtime) of the shipped spec it names, fixed for the process
_shipped_specs = {}  # spec argument -> the shipped spec it names (a dict), read once


def spec_version(spec: str):
    """What a spec string's meaning depends on besides its text, for the launch plan cache: None for
    JSON text, else the file's (path, mtime) as load_spec resolved it.

    A path to a file is stat'ed on every call, so an edited file is read again. A shipped spec's name
    ("causal") is resolved once and the spec taken as fixed for the process (it is package data; the
    stat would be a quarter of the call's cost): its name stays resolved (a file of that name created
    later in the working directory is not looked for), and an edit of the shipped file is seen only by
    a new process."""
    version = _shipped.get(spec)
    if version is not None:
        return version
    if spec[:1] == "{" or spec.lstrip().startswith("{"):
        return None
    path = _resolved.get(spec)
    if path is not None:
        try:
            return path, os.stat(path).st_mtime
        except OSError:
            del _resolved[spec]
    shipped = not os.path.exists(spec)
    path = shipped_spec_path(spec) if shipped else spec
    if path is None:
        return None
    try:
        version = path, os.stat(path).st_mtime
    except OSError:
        return None
    if shipped:
        _shipped[spec] = version
    else:
        _resolved[spec] = path
    return version


def load_spec(spec) -> dict:
    """A spec given as a dict, JSON text, a file path or a shipped spec's name, as a dict. A file is read
    again when its mtime changes; a shipped spec (by name) is read once per process (see spec_version).

    Raises TypeError for another type, FileNotFoundError for a missing file, ValueError for text
    that is not JSON. The spec's fields are checked by the native reader when a kernel is built.
    """
    if isinstance(spec, dict):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a dict, JSON text, a path or a shipped spec's name, not "
                        f"{type(spec).__name__}")
    text = spec.lstrip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"spec: not valid JSON: {e}") from None
    d = _shipped_specs.get(spec)
    if d is not None:
        return d
    shipped = not os.path.exists(spec)
    path = shipped_spec_path(spec) if shipped else spec
    if path is None:
        raise FileNotFoundError(f"spec: no file {spec!r} and no shipped spec of that name")
    if shipped:  # read once, as spec_version takes it (fixed for the process)
        with open(path, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"spec {path}: not valid JSON: {e}") from None
        return _shipped_specs.setdefault(spec, d)
    mtime = os.path.getmtime(path)
    hit = _file_cache.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"spec {path}: not valid JSON: {e}") from None
    _file_cache[path] = (mtime, d)
    return d


def default_scale(D: int) -> float:
    return 1.0 / math.sqrt(D)

"""Finding the tensors a score_mod / mask_mod reads, and the key its trace is cached under.

``walk(fn)`` visits what a Python function can read without running it: its closure cells, its
default arguments and the globals its code (and the code of functions nested in it) names,
descending into tuples, lists, dicts, ``functools.partial`` objects and other plain functions. It
returns

* a hashable *key*: the code objects, the value of every Python scalar, and the shape, dtype and
  device type of every tensor (never a tensor's values); any other object by identity; and
* the tensors it met, each under its *path* (("cell", "slopes"), ("global", "doc_ids"), ...).

Two calls with equal keys trace to the same expressions, so the trace is reused; the captured
tensors are then re-read through their paths on every call (a new tensor of the same shape assigned
to the same global is picked up).
"""

from __future__ import annotations

import functools
import types

import torch

_MAX_DEPTH = 8        # functions nested in functions nested in ...
_MAX_CONTAINER = 64   # longer tuples / lists / dicts are keyed by identity and not searched
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


_NAMES = {}  # code object -> sorted names its code (and nested code) reads


def _code_names(code: types.CodeType, out: set) -> None:
    out.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)


class Walk:
    """The result of ``walk``: ``key`` and ``tensors`` (path -> tensor)."""

    __slots__ = ("key", "tensors", "scalars")

    def __init__(self):
        self.key = None
        self.tensors = {}
        self.scalars = []  # paths of the Python scalars met (for torch.compile's guards)


def _value(v, path, depth, tensors):
    if type(v) is types.FunctionType and depth < _MAX_DEPTH:  # the common case first (the root)
        return ("F", _function(v, path, depth + 1, tensors))
    if isinstance(v, torch.Tensor):
        tensors[path] = v
        return ("T", tuple(v.shape), v.dtype, v.device.type)
    if isinstance(v, _SCALARS):
        if isinstance(v, (bool, int, float)) and _SCALAR_PATHS is not None:
            _SCALAR_PATHS.append(path)
        return ("V", type(v), v)
    if isinstance(v, (torch.dtype, torch.device)):
        return ("V", type(v), str(v))
    if isinstance(v, types.ModuleType):
        return ("M", v.__name__)
    if isinstance(v, types.FunctionType):
        if depth >= _MAX_DEPTH:
            return ("O", v)
        return ("F", _function(v, path, depth + 1, tensors))
    if isinstance(v, types.MethodType):  # a bound method: made anew on every attribute access
        return ("BM", _value(v.__func__, path + ("func",), depth + 1, tensors), id(v.__self__), v.__self__)
    if isinstance(v, functools.partial):
        return ("P", _value(v.func, path + ("func",), depth + 1, tensors),
                _value(v.args, path + ("args",), depth + 1, tensors),
                _value(v.keywords, path + ("keywords",), depth + 1, tensors))
    if isinstance(v, (tuple, list)) and len(v) <= _MAX_CONTAINER and depth < _MAX_DEPTH:
        return ("L", type(v), tuple(_value(x, path + (i,), depth + 1, tensors) for i, x in enumerate(v)))
    if isinstance(v, dict) and len(v) <= _MAX_CONTAINER and depth < _MAX_DEPTH:
        try:
            items = sorted(v.items(), key=lambda kv: repr(kv[0]))
        except Exception:  # keys whose repr fails: identity
            return ("O", id(v), v)
        return ("D", tuple((k, _value(x, path + (k,), depth + 1, tensors)) for k, x in items
                           if isinstance(k, _SCALARS)), len(v))
    # Anything else (an nn.Module, a class, a builtin): its identity. The object is kept alive by
    # the cache key, so its id is not reused while the key exists.
    return ("O", id(v), v)


def _function(fn: types.FunctionType, path, depth, tensors):
    code = fn.__code__
    parts = [code]
    if fn.__closure__:
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned after the function was made)
                parts.append(("empty", name))
                continue
            parts.append(_value(contents, path + (("cell", name),), depth, tensors))
    if fn.__defaults__:
        parts.append(_value(fn.__defaults__, path + ("defaults",), depth, tensors))
    if fn.__kwdefaults__:
        parts.append(_value(fn.__kwdefaults__, path + ("kwdefaults",), depth, tensors))
    names = _NAMES.get(code)
    if names is None:
        found: set = set()
        _code_names(code, found)
        names = _NAMES[code] = tuple(sorted(found))
    g = fn.__globals__
    for name in names:
        if name in g:
            parts.append((name, _value(g[name], path + (("global", name),), depth, tensors)))
    return tuple(parts)


_SCALAR_PATHS = None


def walk(fn, root: str, scalars: bool = False) -> Walk:
    """Key and tensors of ``fn`` (a function, a ``functools.partial`` or any callable object).

    ``root`` starts every path ("score_mod" or "mask_mod"); ``scalars``: also list the paths of the
    bool / int / float values met (``Walk.scalars``).
    """
    global _SCALAR_PATHS
    w = Walk()
    if fn is None:
        w.key = None
        return w
    _SCALAR_PATHS = w.scalars if scalars else None
    try:
        w.key = _value(fn, (root,), 0, w.tensors)
    finally:
        _SCALAR_PATHS = None
    return w


def capture_name(path) -> str:
    """A readable identifier for a tensor's path: ("score_mod", ("cell", "bias")) -> "bias"."""
    parts = []
    for p in path[1:]:
        if isinstance(p, tuple):
            parts.append(str(p[1]))
        elif isinstance(p, (int, str)) and p not in ("func", "args", "keywords", "defaults", "kwdefaults"):
            parts.append(str(p))
    text = "_".join(parts) or "capture"
    text = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text)
    if not (text[0].isalpha() or text[0] == "_"):
        text = "t_" + text
    return text

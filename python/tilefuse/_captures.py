"""Finding the tensors a score_mod / mask_mod reads, and the key its trace is cached under.

``walk(fn)`` visits what a Python function can read without running it: its closure cells, its
default arguments and the globals its code (and the code of functions nested in it) names,
descending into tuples, lists, dicts, ``functools.partial`` objects and other plain functions. It
returns

* a hashable *key*: the code objects, the value of every Python scalar, and the shape, dtype and
  device of every tensor (never a tensor's values); any other object by identity; and
* the tensors it met, each under its *path* (("cell", "slopes"), ("global", "doc_ids"), ...).

Two calls with equal keys trace to the same expressions, so the trace is reused; the captured
tensors are then re-read through their paths on every call (a new tensor of the same shape assigned
to the same global is picked up).
"""

from __future__ import annotations

import functools
import types
import weakref

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
    """The result of ``walk``: ``key``, ``tensors`` (path -> tensor) and ``scalars``; read-only (the walk
    of None is one shared object)."""

    __slots__ = ("key", "tensors", "scalars")

    def __init__(self, key=None, tensors=None, scalars=None):
        self.key = key
        self.tensors = {} if tensors is None else tensors
        self.scalars = [] if scalars is None else scalars  # paths of the Python scalars met (torch.compile)


_FUNCTION = types.FunctionType
_PLAIN = frozenset(_SCALARS)  # exact types: the value itself goes into the key
_NUMBERS = frozenset((bool, int, float))  # the scalars torch.compile guards


def _value(v, path, depth, tensors, scalars):
    # The common cases first, by exact type: a function (the root), a Python scalar, a tensor.
    t = type(v)
    if t is _FUNCTION and depth < _MAX_DEPTH:
        return ("F", _function(v, path, depth + 1, tensors, scalars))
    if t in _PLAIN:
        if scalars is not None and t in _NUMBERS:
            scalars.append(path)
        return ("V", t, v)
    if isinstance(v, torch.Tensor):
        tensors[path] = v
        return ("T", v.shape, v.dtype, v.device)
    if isinstance(v, _SCALARS):  # a subclass (an IntEnum, ...)
        if scalars is not None and isinstance(v, (bool, int, float)):
            scalars.append(path)
        return ("V", t, v)
    if isinstance(v, (torch.dtype, torch.device)):
        return ("V", t, str(v))
    if isinstance(v, types.ModuleType):
        return ("M", v.__name__)
    if isinstance(v, types.FunctionType):
        if depth >= _MAX_DEPTH:
            return ("O", v)
        return ("F", _function(v, path, depth + 1, tensors, scalars))
    if isinstance(v, types.MethodType):  # a bound method: made anew on every attribute access
        return ("BM", _value(v.__func__, path + ("func",), depth + 1, tensors, scalars), id(v.__self__),
                v.__self__)
    if isinstance(v, functools.partial):
        return ("P", _value(v.func, path + ("func",), depth + 1, tensors, scalars),
                _value(v.args, path + ("args",), depth + 1, tensors, scalars),
                _value(v.keywords, path + ("keywords",), depth + 1, tensors, scalars))
    if isinstance(v, (tuple, list)) and len(v) <= _MAX_CONTAINER and depth < _MAX_DEPTH:
        return ("L", t, tuple(_value(x, path + (i,), depth + 1, tensors, scalars) for i, x in enumerate(v)))
    if isinstance(v, dict) and len(v) <= _MAX_CONTAINER and depth < _MAX_DEPTH:
        try:
            items = sorted(v.items(), key=lambda kv: repr(kv[0]))
        except Exception:  # keys whose repr fails: identity
            return ("O", id(v), v)
        return ("D", tuple((k, _value(x, path + (k,), depth + 1, tensors, scalars)) for k, x in items
                           if isinstance(k, _SCALARS)), len(v))
    # Anything else (an nn.Module, a class, a builtin): its identity. The object is kept alive by
    # the cache key, so its id is not reused while the key exists.
    return ("O", id(v), v)


def _function(fn: types.FunctionType, path, depth, tensors, scalars):
    code = fn.__code__
    parts = [code]
    closure = fn.__closure__
    if closure:
        for name, cell in zip(code.co_freevars, closure):
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned after the function was made)
                parts.append(("empty", name))
                continue
            parts.append(_value(contents, path + (("cell", name),), depth, tensors, scalars))
    if fn.__defaults__:
        parts.append(_value(fn.__defaults__, path + ("defaults",), depth, tensors, scalars))
    if fn.__kwdefaults__:
        parts.append(_value(fn.__kwdefaults__, path + ("kwdefaults",), depth, tensors, scalars))
    names = _NAMES.get(code)
    if names is None:
        found: set = set()
        _code_names(code, found)
        names = _NAMES[code] = tuple(sorted(found))
    if names:
        g = fn.__globals__
        for name in names:
            if name in g:
                parts.append((name, _value(g[name], path + (("global", name),), depth, tensors, scalars)))
    return tuple(parts)


_NONE = Walk()


def walk(fn, root: str, scalars: bool = False) -> Walk:
    """Key and tensors of ``fn`` (a function, a ``functools.partial`` or any callable object).

    ``root`` starts every path ("score_mod" or "mask_mod"); ``scalars``: also list the paths of the
    bool / int / float values met (``Walk.scalars``). The result is read-only.
    """
    if fn is None:
        return _NONE
    tensors = {}
    found = [] if scalars else None
    return Walk(_value(fn, (root,), 0, tensors, found), tensors, found)


# --- walk_key: the per-call walk of flex_attention's fast path -----------------------------------------
#
# Most score_mod / mask_mod functions are one plain function whose closure cells, default arguments and
# globals hold Python scalars, modules and tensors. For those, walk_key remembers where each such value
# sits (the cell object, the globals dict and name) and what it was; a later call re-reads every one and,
# when each is the same object (a tensor: a tensor of the same shape, dtype and device), returns the key
# the full walk gave, with the tensors read now. The key a full walk would give depends on nothing else
# (the code, the defaults tuple and the absent kw-defaults are checked too), so it is the same key.
# Anything else (nested functions, containers, partials, objects) takes the full walk every call.

_MISSING = object()
_CELL, _GLOBAL = 0, 1
_LEAF_TYPES = (types.ModuleType, torch.dtype, torch.device)


class _Memo:
    __slots__ = ("ref", "root", "code", "defaults", "probes", "key")


_memos = {}  # id(function) -> _Memo; an entry goes when its function does
_MAX_MEMOS = 1024


def _probe(where, src, name, value, path):
    """(where, src, name, the object expected or None, the tensor's (shape, dtype, device) or None, path),
    or None for a value walk_key cannot check by identity."""
    if type(value) in _PLAIN or value is _MISSING or isinstance(value, _LEAF_TYPES):
        return (where, src, name, value, None, path)
    if isinstance(value, torch.Tensor):
        return (where, src, name, None, (value.shape, value.dtype, value.device), path)
    return None


def _memo(fn, root, key):
    """The _Memo of a plain function whose reads are all probe-able, else None."""
    if type(fn) is not _FUNCTION or fn.__kwdefaults__ is not None:
        return None
    defaults = fn.__defaults__
    if defaults is not None and not all(type(x) in _PLAIN or isinstance(x, _LEAF_TYPES) for x in defaults):
        return None
    code = fn.__code__
    probes = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            return None
        p = _probe(_CELL, cell, name, value, (root, ("cell", name)))
        if p is None:
            return None
        probes.append(p)
    g = fn.__globals__
    for name in _NAMES[code]:  # filled by the full walk just made
        p = _probe(_GLOBAL, g, name, g.get(name, _MISSING), (root, ("global", name)))
        if p is None:
            return None
        probes.append(p)
    m = _Memo()
    fid = id(fn)

    def forget(ref):
        if _memos.get(fid) is m:
            del _memos[fid]

    m.ref, m.root, m.code, m.defaults, m.probes, m.key = weakref.ref(fn, forget), root, code, defaults, \
        tuple(probes), key
    return m


_NO_TENSORS = {}  # read-only


def walk_key(fn, root: str):
    """(key, tensors) of ``walk(fn, root)``, the same values, from a memo of where ``fn`` reads them when it
    has one (see above). ``tensors`` is read-only."""
    if fn is None:
        return None, _NO_TENSORS
    m = _memos.get(id(fn))
    if (m is not None and m.ref() is fn and m.root == root and fn.__code__ is m.code
            and fn.__defaults__ is m.defaults and fn.__kwdefaults__ is None):
        tensors = {}
        for where, src, name, want, meta, path in m.probes:
            if where is _CELL:
                try:
                    value = src.cell_contents
                except ValueError:
                    break
            else:
                value = src.get(name, _MISSING)
            if meta is None:
                if value is not want:
                    break
            elif (isinstance(value, torch.Tensor) and value.shape == meta[0] and value.dtype is meta[1]
                  and value.device == meta[2]):
                tensors[path] = value
            else:
                break
        else:
            return m.key, tensors
    w = walk(fn, root)
    try:
        hash(w.key)
    except TypeError:  # an unhashable value met: no plan will be found under it anyway
        return w.key, w.tensors
    m = _memo(fn, root, w.key)
    if m is not None:
        if len(_memos) >= _MAX_MEMOS:
            _memos.clear()
        _memos[id(fn)] = m
    return w.key, w.tensors


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

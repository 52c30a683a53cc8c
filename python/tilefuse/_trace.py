"""Tracing FlexAttention-style Python functions into spec expressions.

``trace(score_mod, mask_mod)`` calls the functions once with proxy values (``Value``) for ``score``,
``b``, ``h``, ``q_idx`` and ``kv_idx``. Operators on proxies (``+ - * / // % **``, comparisons,
``& | ~ ^``) and the torch functions and Tensor methods in ``_TORCH`` build a spec expression tree
(``_expr.Node``) instead of computing. While the functions run, a ``TorchFunctionMode`` sees every
torch call, so indexing a captured tensor with proxies (``slopes[h]``, ``doc_ids[b, kv_idx]``,
``bias[h][q_idx]``) becomes a read of a *capture*, and a torch function outside ``_TORCH`` applied to
a proxy is an error that names it.

What cannot be traced raises ``TraceError`` (a TypeError) naming the construct: Python ``if`` /
``and`` / ``or`` / ``not`` / ``min()`` / chained comparisons on a traced value (they need a concrete
bool), ``math.*`` functions and ``float()`` / ``int()`` (they need a concrete number), ``.item()``,
an unsupported torch function, a float-to-int cast, bitwise operations on ints, a NaN constant.
Nothing untraceable is silently evaluated: a proxy never turns into a Python number.

Captured tensors keep their values out of the trace: only their shapes and dtypes reach the spec,
and ``Trace.captures`` says, for each, the tensor seen while tracing and, when the tensor was found
by ``_captures.walk``, its path (so later calls re-read it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode

from . import _expr as E
from ._captures import capture_name
from ._expr import BOOL, FLOAT, INT, Node, TraceError

# Spec names a capture may not take (specs/README.md, "Captures").
RESERVED = {"score", "b", "h", "q_idx", "kv_idx", "B", "Hq", "Hkv", "Sq", "Sk", "tanh", "exp", "log",
            "abs", "min", "max", "sqrt", "where", "true", "false", "inf"}

# Capture element types the spec language reads, and how other dtypes are passed (converted on
# every call, see Capture.convert).
SPEC_DTYPE = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
              torch.int32: "i32", torch.int64: "i64"}
CONVERTED = {torch.float64: torch.float32, torch.bool: torch.int32, torch.int8: torch.int32,
             torch.uint8: torch.int32, torch.int16: torch.int32}


@dataclass
class Capture:
    """One captured tensor of a trace.

    ``name`` is its spec name; ``shape`` and ``dtype`` its spec shape and dtype ("f32", "i32", ...);
    ``convert`` the torch dtype it is converted to before a launch (None: passed as it is; a 0-d
    tensor is passed as shape [1]); ``path`` where ``_captures.walk`` found it (None: reached some
    other way, e.g. an attribute of an object, so it cannot be re-read and the trace is not reused).
    """

    name: str
    shape: Tuple[int, ...]
    dtype: str
    convert: Optional[torch.dtype]
    path: Optional[tuple]
    tensor: torch.Tensor = field(repr=False)


@dataclass
class Trace:
    """Spec expression text of score_mod (None: identity) and mask_mod (None: every key visible)."""

    score_mod: Optional[str]
    mask_mod: Optional[str]
    captures: List[Capture]

    @property
    def reusable(self) -> bool:
        """Every capture can be found again by its path."""
        return all(c.path is not None for c in self.captures)


class _Tracer:
    """State of one trace: captures by tensor identity, the tensors made while tracing."""

    def __init__(self, paths: Dict[int, tuple]):
        self.paths = paths              # id(tensor) -> walk path
        self.captures: Dict[int, Capture] = {}
        self.made: Dict[int, torch.Tensor] = {}  # tensors created by torch calls during the trace
        self.names: set = set()

    def capture(self, t: torch.Tensor) -> Capture:
        c = self.captures.get(id(t))
        if c is not None:
            return c
        if t.dtype not in SPEC_DTYPE and t.dtype not in CONVERTED:
            raise TraceError(f"a captured tensor of dtype {t.dtype} cannot be read; use float32, float16, "
                             "bfloat16, int32 or int64 (float64, bool, int8, uint8, int16 are converted)")
        path = self.paths.get(id(t))
        base = capture_name(path) if path else "capture"
        if base in RESERVED:
            base += "_t"
        name, n = base, 1
        while name in self.names:
            n += 1
            name = f"{base}_{n}"
        self.names.add(name)
        convert = CONVERTED.get(t.dtype)
        dtype = SPEC_DTYPE[convert or t.dtype]
        shape = tuple(int(s) for s in t.shape) or (1,)
        if any(s <= 0 for s in shape):
            raise TraceError(f"captured tensor '{name}' has an empty dimension (shape {tuple(t.shape)})")
        c = Capture(name, shape, dtype, convert, path, t)
        self.captures[id(t)] = c
        return c

    def read(self, t: torch.Tensor, indices) -> "Value":
        """``t[indices]`` for a captured tensor ``t``: a Value when every dim is indexed."""
        c = self.capture(t)
        rank = max(t.dim(), 1)
        nodes = []
        for i in indices:
            if isinstance(i, (slice, type(Ellipsis))) or i is None:
                raise TraceError(f"captured tensor '{c.name}' indexed with {i!r}: only integer indices "
                                 "(traced or constant) are supported, one per dimension")
            if isinstance(i, torch.Tensor):
                raise TraceError(f"captured tensor '{c.name}' indexed with a tensor: index with the "
                                 "traced b / h / q_idx / kv_idx (or int expressions of them)")
            nodes.append(self.node(i))
        if t.dim() == 0 and not nodes:
            nodes = [E.literal(0)]
        if len(nodes) > rank:
            raise TraceError(f"captured tensor '{c.name}' of rank {t.dim()} indexed with {len(nodes)} indices")
        if len(nodes) < rank:
            return _Partial(self, t, nodes)
        r = E.read(c.name, nodes, INT if c.dtype in ("i32", "i64") else FLOAT)
        if t.dtype == torch.bool:  # passed as int32 0 / 1
            r = E.binary("!=", r, E.literal(0))
        return Value(r, self)

    def node(self, x) -> Node:
        """A traced operand as a Node: a proxy, a Python scalar, or a 0-d tensor."""
        if isinstance(x, Value):
            return x.node
        if isinstance(x, _Partial):
            x.incomplete()
        if isinstance(x, (bool, int, float)):
            return E.literal(x)
        if isinstance(x, torch.Tensor):
            if id(x) in self.made:
                if x.dim() != 0:
                    raise TraceError(f"a tensor of shape {tuple(x.shape)} made inside score_mod / mask_mod "
                                     "cannot be traced; only 0-d constants (torch.tensor(2.0)) can")
                if x.device.type == "meta":
                    raise TraceError("a 0-d tensor made on the meta device has no value to trace")
                return E.literal(x.item())
            # A tensor from outside the function: read it as a capture (value at call time).
            return self.read(x, ()).node if x.dim() == 0 else _whole_tensor(self, x)
        raise TraceError(f"a {type(x).__name__} cannot be an operand of a traced expression")


def _whole_tensor(tr: _Tracer, t: torch.Tensor):
    name = capture_name(tr.paths[id(t)]) if id(t) in tr.paths else "a captured tensor"
    raise TraceError(f"{name} (shape {tuple(t.shape)}) is used whole in score_mod / mask_mod; index it "
                     "with the traced indices (e.g. bias[h, q_idx, kv_idx]), one per dimension")


_NO_BOOL = ("a traced value has no Python truth value: Python `if`, `while`, `and`, `or`, `not`, "
            "chained comparisons (a < b < c), `min()` / `max()` and `assert` need one. Use torch.where, "
            "`&`, `|`, `~` and torch.minimum / torch.maximum instead")


def _no_number(kind: str):
    def f(self, *args):
        raise TraceError(f"{kind}() of a traced value: it has no concrete value (math.* functions and "
                         "Python number conversions are not traced; use torch.exp, torch.tanh, ... and "
                         ".to(torch.int32) / .to(torch.float32))")
    return f


class Value:
    """A traced int, float or bool. Operators and torch functions on it build expression nodes."""

    __slots__ = ("node", "tracer")

    def __init__(self, node: Node, tracer: _Tracer):
        self.node = node
        self.tracer = tracer

    def __repr__(self):
        return f"<traced {self.node.type}: {E.to_text(self.node)}>"

    # The tracer's mode sees torch calls first; this keeps torch's argument parser accepting proxies
    # when a function is called outside the mode (and makes the mode handle them).
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        tr = _find_tracer(args, kwargs)
        return _dispatch(tr, func, args, kwargs or {})

    def _v(self, node):
        return Value(node, self.tracer)

    def _bin(self, op, other, reverse=False):
        o = self.tracer.node(other)
        return self._v(E.binary(op, o, self.node) if reverse else E.binary(op, self.node, o))

    __add__ = lambda s, o: s._bin("+", o)
    __radd__ = lambda s, o: s._bin("+", o, True)
    __sub__ = lambda s, o: s._bin("-", o)
    __rsub__ = lambda s, o: s._bin("-", o, True)
    __mul__ = lambda s, o: s._bin("*", o)
    __rmul__ = lambda s, o: s._bin("*", o, True)
    __truediv__ = lambda s, o: s._bin("/", o)
    __rtruediv__ = lambda s, o: s._bin("/", o, True)
    __floordiv__ = lambda s, o: s._bin("//", o)
    __rfloordiv__ = lambda s, o: s._bin("//", o, True)
    __mod__ = lambda s, o: s._bin("%", o)
    __rmod__ = lambda s, o: s._bin("%", o, True)
    __lt__ = lambda s, o: s._bin("<", o)
    __le__ = lambda s, o: s._bin("<=", o)
    __gt__ = lambda s, o: s._bin(">", o)
    __ge__ = lambda s, o: s._bin(">=", o)
    __eq__ = lambda s, o: s._bin("==", o)
    __ne__ = lambda s, o: s._bin("!=", o)
    __and__ = lambda s, o: s._bin("&&", o)
    __rand__ = lambda s, o: s._bin("&&", o, True)
    __or__ = lambda s, o: s._bin("||", o)
    __ror__ = lambda s, o: s._bin("||", o, True)
    __hash__ = object.__hash__

    def __xor__(self, o):
        return self._xor(self.tracer.node(o))

    __rxor__ = __xor__

    def _xor(self, o: Node):
        if self.node.type != BOOL or o.type != BOOL:
            raise TraceError("'^' is traced as logical xor and needs bools (bitwise xor of ints is not "
                             "in the spec language)")
        return self._v(E.binary("!=", self.node, o))

    def __neg__(self):
        return self._v(E.neg(self.node))

    def __pos__(self):
        return self

    def __abs__(self):
        return self._v(E.call("abs", self.node))

    def __invert__(self):
        return self._v(E.logical_not(self.node))

    def __pow__(self, p):
        return self._v(_pow(self.node, p))

    def __rpow__(self, base):
        # base ** x = exp(x * log(base)) for a positive constant base
        if isinstance(base, (int, float)) and not isinstance(base, bool) and base > 0:
            return self._v(E.call("exp", E.binary("*", self.node, E.literal(math.log(base)))))
        raise TraceError("c ** x is traced only for a positive constant c")

    def __bool__(self):
        raise TraceError(_NO_BOOL)

    __float__ = _no_number("float")
    __int__ = _no_number("int")
    def __index__(self):
        raise TraceError("a traced value used as a Python index (a list or tuple indexed with b / h / q_idx "
                         "/ kv_idx, range(), ...): it has no concrete value; put the values in a tensor "
                         "(torch.tensor(values, device=...)) and index that")
    __complex__ = _no_number("complex")
    __round__ = _no_number("round")
    __trunc__ = _no_number("math.trunc")
    __floor__ = _no_number("math.floor")
    __ceil__ = _no_number("math.ceil")

    def __getitem__(self, i):
        raise TraceError(f"a traced {self.node.type} cannot be indexed (it is one value per score)")

    def __iter__(self):
        raise TraceError("a traced value cannot be iterated or unpacked (it is one value per score)")

    def __len__(self):
        raise TraceError("len() of a traced value: it is one value per score")

    # Tensor-like attributes and methods (the same table as the torch functions).
    @property
    def dtype(self):
        return {INT: torch.int64, FLOAT: torch.float32, BOOL: torch.bool}[self.node.type]

    @property
    def shape(self):
        return torch.Size([])

    def dim(self):
        return 0

    def __getattr__(self, name):
        method = METHODS.get(name)
        if method is None:
            raise TraceError(f"Tensor.{name} is not traceable in score_mod / mask_mod; traceable are the "
                             f"operators and {', '.join(sorted(METHODS))}")
        return lambda *a, **k: method(self.tracer, self, *a, **k)


class _Partial:
    """A captured tensor indexed with fewer indices than its rank (``bias[h]`` of ``bias[h][q_idx]``)."""

    def __init__(self, tracer: _Tracer, t: torch.Tensor, nodes):
        self.tracer, self.t, self.nodes = tracer, t, nodes

    def __getitem__(self, i):
        more = i if isinstance(i, tuple) else (i,)
        return self.tracer.read(self.t, [Value(n, self.tracer) for n in self.nodes] + list(more))

    def incomplete(self):
        c = self.tracer.capture(self.t)
        raise TraceError(f"captured tensor '{c.name}' of rank {self.t.dim()} is read with "
                         f"{len(self.nodes)} indices; give one index per dimension")

    def __getattr__(self, name):
        self.incomplete()

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        tr = _find_tracer(args, kwargs)
        return _dispatch(tr, func, args, kwargs or {})


def _pow(x: Node, p) -> Node:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TraceError("x ** p is traced only for a constant exponent p")
    if p == 0.5:
        return E.call("sqrt", x)
    if p == -0.5:
        return E.binary("/", E.literal(1.0), E.call("sqrt", x))
    if float(p).is_integer() and 1 <= abs(p) <= 8:
        r = x
        for _ in range(int(abs(p)) - 1):
            r = E.binary("*", r, x)
        if isinstance(p, float):
            r = E.to_float(r)
        return E.binary("/", E.literal(1.0), r) if p < 0 else r
    return E.call("exp", E.binary("*", E.call("log", x), E.literal(float(p))))


def _find_tracer(args, kwargs) -> Optional[_Tracer]:
    for a in list(args) + list((kwargs or {}).values()):
        if isinstance(a, (Value, _Partial)):
            return a.tracer
        if isinstance(a, (tuple, list)):
            t = _find_tracer(a, None)
            if t is not None:
                return t
    return _ACTIVE[-1] if _ACTIVE else None


_ACTIVE: List[_Tracer] = []


def _involves(tr: _Tracer, args, kwargs) -> bool:
    """Whether a torch call touches the trace: a proxy, or a tensor from outside the function."""
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (Value, _Partial)):
            return True
        if isinstance(a, torch.Tensor) and id(a) not in tr.made:
            return True
        if isinstance(a, (tuple, list)) and _involves(tr, a, {}):
            return True
    return False


# Tensor metadata a function may read from a captured tensor (slopes.shape[0], len(bias)): it is
# part of the cache key, so reading it at trace time is safe.
_METADATA = {"__get__", "size", "dim", "ndim", "numel", "__len__", "stride", "is_contiguous", "element_size"}


def _has_proxy(args, kwargs) -> bool:
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (Value, _Partial)) or (isinstance(a, (tuple, list)) and _has_proxy(a, {})):
            return True
    return False


def _dispatch(tr: Optional[_Tracer], func, args, kwargs):
    if tr is None:
        raise TraceError(f"{_func_name(func)} was called on a traced value outside tracing")
    name = _func_name(func)
    handler = HANDLERS.get(name)
    if handler is None:
        where = "torch." if getattr(func, "__module__", "") in ("torch", "torch.functional") else ""
        raise TraceError(f"{where}{name} is not traceable in score_mod / mask_mod. Traceable: arithmetic "
                         "(+ - * / // % **), comparisons, & | ~ ^, torch.where, tanh, exp, exp2, log, log2, "
                         "sqrt, rsqrt, abs, floor, ceil, log1p, expm1, sigmoid, sign, minimum, maximum, clamp, "
                         "and dtype casts (.to, .int, .long, .float, .bool)")
    try:
        return handler(tr, *args, **kwargs)
    except TypeError as e:
        if isinstance(e, TraceError):
            raise
        raise TraceError(f"{name}{tuple(type(a).__name__ for a in args)} is not traceable: {e}") from None


class _Mode(TorchFunctionMode):
    """Routes every torch call made while tracing: symbolic when it touches the trace, else real."""

    def __init__(self, tr: _Tracer):
        super().__init__()
        self.tr = tr

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _involves(self.tr, args, kwargs):
            if _func_name(func) in _METADATA and not _has_proxy(args, kwargs):
                return func(*args, **kwargs)
            return _dispatch(self.tr, func, args, kwargs)
        result = func(*args, **kwargs)  # a constant computation (torch.tensor(2.0), ...)
        if isinstance(result, torch.Tensor):
            self.tr.made[id(result)] = result
        return result


def _call(fn, args, what: str, tr: _Tracer) -> Node:
    _ACTIVE.append(tr)
    try:
        with _Mode(tr):
            out = fn(*args)
    except TraceError as e:
        raise TraceError(f"{what} ({_location(fn)}){_user_line(e.__traceback__)}: {e}") from None
    finally:
        _ACTIVE.pop()
    try:
        return tr.node(out)
    except TraceError as e:
        raise TraceError(f"{what} ({_location(fn)}) returned {type(out).__name__}: {e}") from None


_TORCH_PLUMBING = ("torch/overrides.py", "torch/_tensor.py", "torch/utils/_python_dispatch.py")


def _user_line(tb) -> str:
    """", line N: <source>" of the innermost frame outside this package (the construct traced)."""
    import linecache
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    found = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        path = os.path.abspath(code.co_filename)
        if not path.startswith(here + os.sep) and not path.endswith(_TORCH_PLUMBING):
            line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
            found = f", line {tb.tb_lineno}" + (f": `{line}`" if line else "")
        tb = tb.tb_next
    return found


def _location(fn) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{getattr(fn, '__qualname__', code.co_name)} at {code.co_filename}:{code.co_firstlineno}"


def trace(score_mod, mask_mod, paths: Dict[int, tuple]) -> Trace:
    """Traces ``score_mod(score, b, h, q_idx, kv_idx) -> float`` and ``mask_mod(b, h, q_idx, kv_idx)
    -> bool`` (either may be None) into spec expression text.

    ``paths`` maps ``id(tensor)`` to the path ``_captures.walk`` found it under. Raises TraceError
    naming the construct that cannot be traced; a mask_mod that returns a number or a score_mod that
    returns a bool is a TypeError (TraceError) too.
    """
    tr = _Tracer(paths)
    b, h, q, kv = (Value(E.variable(n), tr) for n in ("b", "h", "q_idx", "kv_idx"))
    score_text = mask_text = None
    if score_mod is not None:
        node = _call(score_mod, (Value(E.variable("score"), tr), b, h, q, kv), "score_mod", tr)
        if node.type == BOOL:
            raise TraceError(f"score_mod ({_location(score_mod)}) returned a bool; it must return the "
                             "modified float score")
        node = E.to_float(node)
        if not (node.op == "var" and node.args[0] == "score"):
            score_text = _checked_text(node, "score_mod")
    if mask_mod is not None:
        node = _call(mask_mod, (b, h, q, kv), "mask_mod", tr)
        if node.type != BOOL:
            raise TraceError(f"mask_mod ({_location(mask_mod)}) returned a {node.type}; it must return a bool "
                             "(a comparison, or & | ~ of comparisons)")
        if not (node.op == "lit" and node.args[0] is True):
            mask_text = _checked_text(node, "mask_mod")
    return Trace(score_text, mask_text, sorted(tr.captures.values(), key=lambda c: c.name))


def _checked_text(node: Node, what: str) -> str:
    d = E.depth(node)
    if d > 200:
        raise TraceError(f"{what} traces to an expression {d} levels deep; the spec language allows 200")
    return E.to_text(node)


# The torch functions and Tensor methods a proxy supports (imported last: they build Values).
from ._torch_ops import HANDLERS, METHODS, func_name as _func_name  # noqa: E402

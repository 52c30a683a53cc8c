"""The torch functions and Tensor methods a traced value supports, as spec expressions.

``HANDLERS`` maps a function's ``__name__`` (the same for ``torch.X``, ``Tensor.X`` and the operator
dunders Tensor defines) to ``handler(tracer, *args, **kwargs) -> Value``; ``METHODS`` is the subset
reachable as methods of a proxy (``score.tanh()``, ``q_idx.to(torch.float32)``). Functions the
language lacks are written with those it has: ``rsqrt(x) = 1 / sqrt(x)``,
``clamp(x, lo, hi) = min(max(x, lo), hi)``, integer powers as products. sigmoid, exp2, log2, sign,
floor, ceil, log1p and expm1 are the spec's built-ins (specs/README.md, Functions).
"""

from __future__ import annotations

import torch

from . import _expr as E
from ._expr import TraceError
from ._trace import _NO_BOOL, Value, _Partial, _pow


def _unary(fn):
    return lambda tr, x: Value(E.call(fn, tr.node(x)), tr)


def _where(tr, cond, a=None, b=None):
    if a is None or b is None:
        raise TraceError("torch.where(cond) with one argument (nonzero) is not traceable; use "
                         "torch.where(cond, a, b)")
    return Value(E.where(tr.node(cond), tr.node(a), tr.node(b)), tr)


def _binop(op, reverse=False):
    def f(tr, a, b, *, alpha=None, out=None):
        if out is not None:
            raise TraceError("out= is not traceable")
        bn = tr.node(b)
        if alpha is not None:
            bn = E.binary("*", bn, E.literal(alpha))
        an = tr.node(a)
        return Value(E.binary(op, bn, an) if reverse else E.binary(op, an, bn), tr)
    return f


def _div(tr, a, b, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return Value(E.binary("/", tr.node(a), tr.node(b)), tr)
    if rounding_mode == "floor":
        return Value(E.binary("//", tr.node(a), tr.node(b)), tr)
    raise TraceError("torch.div(rounding_mode='trunc') is not traceable; use rounding_mode='floor' or //")


def _clamp(tr, x, min=None, max=None):
    n = tr.node(x)
    if min is not None:
        n = E.call("max", n, tr.node(min))
    if max is not None:
        n = E.call("min", n, tr.node(max))
    return Value(n, tr)


def _cast(tr, x, *args, **kwargs):
    dtype = kwargs.get("dtype")
    for a in args:
        if isinstance(a, torch.dtype):
            dtype = a
        elif isinstance(a, (Value, torch.Tensor)):
            dtype = a.dtype
    if dtype is None:  # .to(device) / .to(memory_format=...): nothing to trace
        return x
    return _to_dtype(tr, x, dtype, f".to({dtype})")


def _to_dtype(tr, x, dtype, what):
    n = tr.node(x)
    if dtype == torch.bool:
        return Value(E.to_bool(n), tr)
    if dtype.is_floating_point:
        return Value(E.to_float(n), tr)
    if dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        return Value(E.to_int(n, what), tr)
    raise TraceError(f"{what} is not traceable (dtypes: bool, integer, floating point)")


def _const_like(value_fn):
    def f(tr, x, size=(), *args, dtype=None, **kwargs):
        if tuple(size) not in ((), (1,)):
            raise TraceError("new_ones / new_zeros / new_full of a non-scalar size are not traceable")
        v = value_fn(args)
        dtype = dtype or getattr(x, "dtype", torch.float32)
        if dtype == torch.bool:
            return Value(E.literal(bool(v)), tr)
        return Value(E.literal(float(v) if dtype.is_floating_point else int(v)), tr)
    return f


def _getitem(tr, t, idx):
    if isinstance(t, _Partial):
        return t[idx]
    if isinstance(t, Value):
        return t[idx]
    return tr.read(t, idx if isinstance(idx, tuple) else (idx,))


def _no(name, why):
    def f(tr, *a, **k):
        raise TraceError(f"{name} is not traceable: {why}")
    return f



# name -> handler(tracer, *args, **kwargs), shared by torch.X and Tensor.X.
HANDLERS = {
    "add": _binop("+"), "sub": _binop("-"), "subtract": _binop("-"), "mul": _binop("*"),
    "multiply": _binop("*"), "true_divide": _binop("/"), "div": _div, "divide": _div,
    "floor_divide": _binop("//"), "remainder": _binop("%"),
    "rsub": lambda tr, a, b, alpha=None: _binop("-", True)(tr, a, b, alpha=alpha),
    "lt": _binop("<"), "le": _binop("<="), "gt": _binop(">"), "ge": _binop(">="), "eq": _binop("=="),
    "ne": _binop("!="), "less": _binop("<"), "less_equal": _binop("<="), "greater": _binop(">"),
    "greater_equal": _binop(">="), "not_equal": _binop("!="),
    "logical_and": _binop("&&"), "logical_or": _binop("||"),
    "logical_xor": lambda tr, a, b: Value(tr.node(a), tr)._xor(tr.node(b)),
    "logical_not": lambda tr, x: Value(E.logical_not(tr.node(x)), tr),
    "bitwise_and": _binop("&&"), "bitwise_or": _binop("||"),
    "bitwise_not": lambda tr, x: Value(E.logical_not(tr.node(x)), tr),
    "bitwise_xor": lambda tr, a, b: Value(tr.node(a), tr)._xor(tr.node(b)),
    "neg": lambda tr, x: Value(E.neg(tr.node(x)), tr), "negative": lambda tr, x: Value(E.neg(tr.node(x)), tr),
    "abs": _unary("abs"), "absolute": _unary("abs"),
    "tanh": _unary("tanh"), "exp": _unary("exp"), "log": _unary("log"), "sqrt": _unary("sqrt"),
    "floor": _unary("floor"), "ceil": _unary("ceil"), "log1p": _unary("log1p"), "expm1": _unary("expm1"),
    "round": _no("round", "torch.round rounds halves to even and the spec's round() rounds them away from "
                 "zero; write floor(x + 0.5) or keep the value unrounded"),
    "exp2": _unary("exp2"), "log2": _unary("log2"),
    "rsqrt": lambda tr, x: Value(E.binary("/", E.literal(1.0), E.call("sqrt", tr.node(x))), tr),
    "square": lambda tr, x: Value(E.binary("*", tr.node(x), tr.node(x)), tr),
    "pow": lambda tr, x, p: Value(_pow(tr.node(x), p), tr) if isinstance(x, Value)
    else _no("pow", "the exponent must be a constant")(tr),
    "sigmoid": _unary("sigmoid"),
    "minimum": lambda tr, a, b: Value(E.call("min", tr.node(a), tr.node(b)), tr),
    "maximum": lambda tr, a, b: Value(E.call("max", tr.node(a), tr.node(b)), tr),
    "fmin": lambda tr, a, b: Value(E.call("min", tr.node(a), tr.node(b)), tr),
    "fmax": lambda tr, a, b: Value(E.call("max", tr.node(a), tr.node(b)), tr),
    "clamp": _clamp, "clip": _clamp,
    "clamp_min": lambda tr, x, m: _clamp(tr, x, min=m), "clamp_max": lambda tr, x, m: _clamp(tr, x, max=m),
    "where": _where, "sign": _unary("sign"),
    "to": _cast, "type": _cast,
    "float": lambda tr, x: _to_dtype(tr, x, torch.float32, ".float()"),
    "double": lambda tr, x: _to_dtype(tr, x, torch.float32, ".double()"),
    "half": lambda tr, x: _to_dtype(tr, x, torch.float32, ".half()"),
    "bfloat16": lambda tr, x: _to_dtype(tr, x, torch.float32, ".bfloat16()"),
    "int": lambda tr, x: _to_dtype(tr, x, torch.int32, ".int()"),
    "long": lambda tr, x: _to_dtype(tr, x, torch.int64, ".long()"),
    "bool": lambda tr, x: _to_dtype(tr, x, torch.bool, ".bool()"),
    "type_as": lambda tr, x, o: _to_dtype(tr, x, o.dtype, ".type_as()"),
    "new_ones": _const_like(lambda a: 1), "new_zeros": _const_like(lambda a: 0),
    "new_full": _const_like(lambda a: a[0] if a else 0),
    "__getitem__": _getitem,
    "__add__": _binop("+"), "__radd__": _binop("+", True), "__sub__": _binop("-"),
    "__rsub__": _binop("-", True), "__mul__": _binop("*"), "__rmul__": _binop("*", True),
    "__truediv__": _binop("/"), "__rtruediv__": _binop("/", True), "__floordiv__": _binop("//"),
    "__rfloordiv__": _binop("//", True), "__mod__": _binop("%"), "__rmod__": _binop("%", True),
    "__lt__": _binop("<"), "__le__": _binop("<="), "__gt__": _binop(">"), "__ge__": _binop(">="),
    "__eq__": _binop("=="), "__ne__": _binop("!="), "__and__": _binop("&&"), "__rand__": _binop("&&", True),
    "__or__": _binop("||"), "__ror__": _binop("||", True),
    "__neg__": lambda tr, x: Value(E.neg(tr.node(x)), tr),
    "__invert__": lambda tr, x: Value(E.logical_not(tr.node(x)), tr),
    "__abs__": _unary("abs"),
    "__pow__": lambda tr, x, p: Value(_pow(tr.node(x), p), tr),
    "__bool__": _no("bool()", _NO_BOOL), "item": _no(".item()", "it needs a concrete value; keep the "
                                                     "value traced (drop .item())"),
    "tolist": _no(".tolist()", "it needs concrete values"),
}

# Tensor methods reachable on a proxy (Value.__getattr__).
METHODS = {k: v for k, v in HANDLERS.items() if not k.startswith("__") and k not in
            ("true_divide", "subtract", "multiply", "divide", "negative", "absolute", "less", "less_equal",
             "greater", "greater_equal", "not_equal", "fmin", "fmax", "rsub")}
for _k in ("item", "tolist"):
    METHODS[_k] = HANDLERS[_k]


def func_name(func) -> str:
    name = getattr(func, "__name__", None) or str(func)
    return name



"""Expression trees of the spec language (specs/README.md, "Expression language"), built in Python.

A node is immutable and typed like the C++ checker types it (compiler/lib/spec/ExprCheck.cpp):
``int`` (int64), ``float`` (fp32 in kernels, fp64 in the reference interpreter) or ``bool``.
``to_text`` prints every binary operation in parentheses, so the printed text never depends on
operator precedence; the spec reader re-prints it with the fewest parentheses.

Each function here checks its operand types and raises ``TraceError`` with a sentence a user can act
on; they are the only constructors the tracer (``_trace.py``) uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

INT, FLOAT, BOOL = "int", "float", "bool"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class TraceError(TypeError):
    """A score_mod / mask_mod does something the spec language cannot express.

    The message names the Python construct (``if`` on a traced value, ``math.exp``, ``.item()``,
    an unsupported torch function, ...) and what to write instead.
    """


@dataclass(frozen=True)
class Node:
    """One expression node: ``op`` and its operands (``args``), ``type`` in {int, float, bool}.

    ops: ``lit`` (args = (python value,)), ``var`` (args = (name,)), ``read`` (args = (capture name,
    index nodes...)), ``neg``, ``not``, binary ``+ - * / // % < <= > >= == != && ||``, ``where``
    (cond, a, b), and the functions ``tanh exp log sqrt abs min max``.
    """

    op: str
    args: Tuple
    type: str


_ARITH = ("+", "-", "*", "/", "//", "%")
_COMPARE = ("<", "<=", ">", ">=", "==", "!=")
_LOGIC = ("&&", "||")
_UNARY_FLOAT = ("tanh", "exp", "log", "sqrt", "log1p", "expm1", "sigmoid", "exp2", "log2")


def literal(value) -> Node:
    """A Python bool, int or float as a literal (a float NaN or an int outside int64 is an error)."""
    if isinstance(value, bool):
        return Node("lit", (value,), BOOL)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise TraceError(f"the integer constant {value} is outside int64, the spec language's int")
        return Node("lit", (value,), INT)
    if isinstance(value, float):
        if math.isnan(value):
            raise TraceError("a NaN constant cannot be written in the spec language")
        return Node("lit", (value,), FLOAT)
    raise TraceError(f"a constant of Python type {type(value).__name__} cannot be traced; "
                     "use a bool, int or float")


def variable(name: str) -> Node:
    """``score`` (float) or ``b``, ``h``, ``q_idx``, ``kv_idx`` (int)."""
    return Node("var", (name,), FLOAT if name == "score" else INT)


def read(capture: str, indices, element_type: str) -> Node:
    """``capture[i, ...]``: every index an int node; the result has the capture's element type."""
    for i, x in enumerate(indices):
        if x.type != INT:
            raise TraceError(f"index {i} of captured tensor '{capture}' is a {x.type}; indices must be "
                             "int (use q_idx, kv_idx, b, h or int arithmetic on them)")
    return Node("read", (capture, *indices), element_type)


def _number(x: Node, what: str) -> None:
    if x.type == BOOL:
        raise TraceError(f"{what} needs a number, got a bool (convert with torch.where(c, 1.0, 0.0) "
                         "or .to(torch.float32))")


def binary(op: str, a: Node, b: Node) -> Node:
    """``a op b`` with the language's typing (specs/README.md, "Types")."""
    if op in _ARITH:
        _number(a, f"'{op}'"), _number(b, f"'{op}'")
        if op == "/":
            return Node(op, (a, b), FLOAT)
        return Node(op, (a, b), INT if a.type == b.type == INT else FLOAT)
    if op in _COMPARE:
        if op in ("==", "!=") and a.type == b.type == BOOL:
            return Node(op, (a, b), BOOL)
        _number(a, f"'{op}'"), _number(b, f"'{op}'")
        return Node(op, (a, b), BOOL)
    if op in _LOGIC:
        py = "&" if op == "&&" else "|"
        for x in (a, b):
            if x.type != BOOL:
                raise TraceError(f"'{py}' is traced as logical {op} and needs bools, got a {x.type} "
                                 "(bitwise operations on ints are not in the spec language)")
        # true && x = x, false || x = x (and_masks / or_masks start from a constant)
        unit = op == "&&"
        if a.op == "lit" and a.args[0] is unit:
            return b
        if b.op == "lit" and b.args[0] is unit:
            return a
        return Node(op, (a, b), BOOL)
    raise AssertionError(op)


def neg(x: Node) -> Node:
    _number(x, "unary '-'")
    return Node("neg", (x,), x.type)


def logical_not(x: Node) -> Node:
    if x.type != BOOL:
        raise TraceError(f"'~' is traced as logical not and needs a bool, got a {x.type} "
                         "(bitwise not of an int is not in the spec language)")
    return Node("not", (x,), BOOL)


def call(fn: str, *xs: Node) -> Node:
    """``tanh exp log sqrt log1p expm1 sigmoid exp2 log2`` (-> float), ``abs floor ceil sign`` (same type),
    ``min max`` (as '+')."""
    for x in xs:
        _number(x, f"{fn}()")
    if fn in _UNARY_FLOAT:
        return Node(fn, xs, FLOAT)
    if fn in ("abs", "floor", "ceil", "sign"):
        return Node(fn, xs, xs[0].type)
    if fn in ("min", "max"):
        return Node(fn, xs, INT if all(x.type == INT for x in xs) else FLOAT)
    raise AssertionError(fn)


def where(c: Node, a: Node, b: Node) -> Node:
    """``c ? a : b``: c bool; a and b of one type, or two numbers (float if mixed)."""
    if c.type != BOOL:
        raise TraceError(f"torch.where's condition must be a bool, got a {c.type}")
    if a.type == b.type:
        t = a.type
    elif BOOL in (a.type, b.type):
        raise TraceError("torch.where's branches must both be bools or both numbers, got "
                         f"{a.type} and {b.type}")
    else:
        t = FLOAT
    return Node("where", (c, a, b), t)


def to_float(x: Node) -> Node:
    """An int or bool as float: ``x * 1.0``, ``c ? 1.0 : 0.0``."""
    if x.type == FLOAT:
        return x
    if x.type == BOOL:
        return where(x, literal(1.0), literal(0.0))
    if x.op == "lit":
        return literal(float(x.args[0]))
    return binary("*", x, literal(1.0))


def to_int(x: Node, what: str) -> Node:
    """A bool or int as int (``c ? 1 : 0``); a float cannot be truncated in the language."""
    if x.type == INT:
        return x
    if x.type == BOOL:
        return where(x, literal(1), literal(0))
    raise TraceError(f"{what} of a float cannot be traced: the spec language has no float-to-int "
                     "conversion (keep the value float, or compute the int from q_idx / kv_idx / b / h)")


def to_bool(x: Node) -> Node:
    """``x != 0`` for a number, as torch's ``.bool()`` / ``.to(torch.bool)``."""
    if x.type == BOOL:
        return x
    return binary("!=", x, literal(0 if x.type == INT else 0.0))


def _float_text(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "(-inf)"
    text = repr(v)  # shortest round-trip form: 0.5, 1e-05, 1.5e+300
    if v < 0:
        return f"({text})"
    if "e" not in text and "." not in text:
        text += ".0"
    return text


def to_text(x: Node) -> str:
    """The node in the spec grammar, every binary operation parenthesized."""
    op, args = x.op, x.args
    if op == "lit":
        v = args[0]
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return f"({v})" if v < 0 else str(v)
        return _float_text(v)
    if op == "var":
        return args[0]
    if op == "read":
        return f"{args[0]}[{', '.join(to_text(i) for i in args[1:])}]"
    if op == "neg":
        return f"(-{to_text(args[0])})"
    if op == "not":
        return f"(!{to_text(args[0])})"
    if op == "where":
        return f"({to_text(args[0])} ? {to_text(args[1])} : {to_text(args[2])})"
    if op in _ARITH or op in _COMPARE or op in _LOGIC:
        return f"({to_text(args[0])} {op} {to_text(args[1])})"
    return f"{op}({', '.join(to_text(a) for a in args)})"


def depth(x: Node) -> int:
    """Levels of the tree (the spec reader allows 200)."""
    if x.op in ("lit", "var"):
        return 1
    subs = [a for a in x.args if isinstance(a, Node)]
    return 1 + max((depth(a) for a in subs), default=0)


def reads_score(x: Node) -> bool:
    if x.op == "var":
        return x.args[0] == "score"
    return any(reads_score(a) for a in x.args if isinstance(a, Node))

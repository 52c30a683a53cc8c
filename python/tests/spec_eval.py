"""A test-only evaluator of spec expressions (specs/README.md, "Expression language") over torch grids.

Independent of the tracer: it parses the printed text with the grammar's precedence and evaluates it
on broadcast index tensors, so a trace can be checked against the Python function it came from.
Floats are float64, ints int64, as the C++ reference interpreter computes.
"""

import re

import torch

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|(\d+)|"
                    r"([A-Za-z_][A-Za-z0-9_]*)|(//|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:(),\[\]]))")

_BINARY = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "//", "%")]


def _tokens(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"bad token at {pos}: {text[pos:pos + 10]!r}")
        f, i, n, op = m.groups()
        out.append(("float", float(f)) if f else ("int", int(i)) if i else ("name", n) if n else ("op", op))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text, env):
        self.t, self.i, self.env = _tokens(text), 0, env

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("end", None)

    def take(self, op=None):
        tok = self.peek()
        if op is not None and tok != ("op", op):
            raise ValueError(f"expected {op}, got {tok}")
        self.i += 1
        return tok

    def expr(self):
        c = self.binary(0)
        if self.peek() == ("op", "?"):
            self.take("?")
            a = self.expr()
            self.take(":")
            b = self.expr()
            return _where(c, a, b)
        return c

    def binary(self, level):
        if level == len(_BINARY):
            return self.unary()
        x = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _BINARY[level]:
            op = self.take()[1]
            x = _apply(op, x, self.binary(level + 1))
        return x

    def unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            return -self.unary()
        if self.peek() == ("op", "!"):
            self.take()
            return ~self.unary()
        return self.primary()

    def primary(self):
        kind, v = self.take()
        if kind == "float":
            return torch.tensor(v, dtype=torch.float64)
        if kind == "int":
            return torch.tensor(v, dtype=torch.int64)
        if (kind, v) == ("op", "("):
            x = self.expr()
            self.take(")")
            return x
        if kind != "name":
            raise ValueError(f"unexpected {v}")
        if v in ("true", "false"):
            return torch.tensor(v == "true")
        if v == "inf":
            return torch.tensor(float("inf"), dtype=torch.float64)
        if self.peek() == ("op", "("):
            self.take("(")
            args = [self.expr()]
            while self.peek() == ("op", ","):
                self.take(",")
                args.append(self.expr())
            self.take(")")
            return _call(v, args)
        if self.peek() == ("op", "["):
            self.take("[")
            idx = [self.expr()]
            while self.peek() == ("op", ","):
                self.take(",")
                idx.append(self.expr())
            self.take("]")
            t = self.env[v]
            r = t[tuple(i.long() for i in idx)]
            return r.double() if r.is_floating_point() else r.long()
        return self.env[v]


def _float(x):
    return x.double() if x.dtype != torch.bool else x


def _apply(op, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return _float(a) / _float(b)
    if op == "//":
        return torch.floor_divide(a, b)
    if op == "%":
        return torch.remainder(a, b)
    if op == "&&":
        return a & b
    if op == "||":
        return a | b
    return {"<": torch.lt, "<=": torch.le, ">": torch.gt, ">=": torch.ge, "==": torch.eq, "!=": torch.ne}[op](a, b)


def _where(c, a, b):
    if a.dtype != b.dtype and torch.bool not in (a.dtype, b.dtype):
        a, b = a.double(), b.double()
    return torch.where(c, a, b)


def _call(f, args):
    if f in ("tanh", "exp", "log", "sqrt", "log1p", "expm1", "sigmoid", "exp2", "log2"):
        return getattr(torch, f)(args[0].double())
    if f == "sign":  # of an int: an int; sign(NaN) = 0 (specs/README.md)
        x = args[0]
        return torch.nan_to_num(torch.sign(x), nan=0.0) if x.is_floating_point() else torch.sign(x)
    if f in ("floor", "ceil"):  # of an int: the int itself (specs/README.md, Functions)
        x = args[0]
        return x if not x.is_floating_point() else getattr(torch, f)(x.double())
    if f == "abs":
        return args[0].abs()
    if f in ("min", "max"):
        a, b = args
        if a.dtype != b.dtype:
            a, b = a.double(), b.double()
        return torch.minimum(a, b) if f == "min" else torch.maximum(a, b)
    raise ValueError(f)


def evaluate(text, env):
    """The expression ``text`` over ``env`` (names -> tensors or numbers), broadcast."""
    env = {k: (torch.tensor(v) if isinstance(v, (int, float)) else v) for k, v in env.items()}
    p = _Parser(text, env)
    x = p.expr()
    if p.peek()[0] != "end":
        raise ValueError(f"trailing tokens after {p.i}")
    return x


def grid(B, H, Sq, Sk, seed=0):
    """(score, b, h, q_idx, kv_idx): random float64 scores (B, H, Sq, Sk) and broadcast int64 indices."""
    g = torch.Generator().manual_seed(seed)
    score = torch.randn(B, H, Sq, Sk, generator=g, dtype=torch.float64) * 3
    b = torch.arange(B).view(B, 1, 1, 1)
    h = torch.arange(H).view(1, H, 1, 1)
    q = torch.arange(Sq).view(1, 1, Sq, 1)
    kv = torch.arange(Sk).view(1, 1, 1, Sk)
    return score, b, h, q, kv

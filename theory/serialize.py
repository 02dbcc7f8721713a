"""Save and load SymPy expressions as ``srepr`` text without ``eval``.

``sympy.srepr`` writes an expression as nested constructor calls, e.g.
``Add(Symbol('x', real=True), Integer(1))``.  :func:`loads` parses such text with
:mod:`ast` and rebuilds it by walking the tree, accepting only calls of an explicit
allow-list of SymPy classes with literal arguments.  Nothing is evaluated, so a
tampered file can at worst fail to load.
"""

from __future__ import annotations

import ast

import sympy as sp

__all__ = ["dumps", "loads", "register_function"]

_ALLOWED: dict[str, object] = {
    name: getattr(sp, name, None) or getattr(sp.functions.elementary.piecewise, name)
    for name in (
        "Symbol Dummy Integer Rational Float Add Mul Pow Function Tuple "
        "ImmutableDenseMatrix ImmutableMatrix MutableDenseMatrix Matrix "
        "exp log sqrt erf erfc sin cos tan tanh atan asin acos sinh cosh Abs sign "
        "Max Min Piecewise ExprCondPair Heaviside Lt Le Gt Ge Eq Ne "
        "hyper gamma beta Sum Derivative Subs Lambda"
    ).split()
}
_CONSTANTS: dict[str, object] = {
    "pi": sp.pi,
    "E": sp.E,
    "I": sp.I,
    "oo": sp.oo,
    "zoo": sp.zoo,
    "nan": sp.nan,
    "true": sp.true,
    "false": sp.false,
    "Half": sp.S.Half,
    "One": sp.S.One,
    "Zero": sp.S.Zero,
    "NegativeOne": sp.S.NegativeOne,
    "Pi": sp.pi,
    "Exp1": sp.E,
    "ImaginaryUnit": sp.I,
    "Infinity": sp.oo,
    "NegativeInfinity": -sp.oo,
    "BooleanTrue": sp.true,
    "BooleanFalse": sp.false,
}


def register_function(cls) -> object:
    """Allow a custom SymPy ``Function`` subclass (e.g. Owen's T) in :func:`loads`."""
    _ALLOWED[cls.__name__] = cls
    return cls


def dumps(expr) -> str:
    """``srepr`` text of a SymPy object."""
    return sp.srepr(expr)


def _build(node: ast.AST):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise ValueError(f"literal of type {type(node.value).__name__} not allowed")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _build(node.operand)
        if isinstance(value, (int, float)):
            return -value
        raise ValueError("unary minus is only allowed on numbers")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_build(e) for e in node.elts]
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ValueError(f"name {node.id!r} is not allowed in a saved expression")
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in _CONSTANTS and not node.args and not node.keywords:
                return _CONSTANTS[func.id]  # srepr writes S.Half etc. as Half()
            if func.id not in _ALLOWED:
                raise ValueError(f"constructor {func.id!r} is not allowed in a saved expression")
            target = _ALLOWED[func.id]
        elif isinstance(func, ast.Call):
            target = _build(func)  # Function('f')(x): an undefined function applied
            if not callable(target):
                raise ValueError("call of a non-callable in a saved expression")
        else:
            raise ValueError("only plain constructor calls are allowed in a saved expression")
        args = [_build(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError("**kwargs are not allowed in a saved expression")
            kwargs[kw.arg] = _build(kw.value)
        return target(*args, **kwargs)
    raise ValueError(f"syntax {type(node).__name__} is not allowed in a saved expression")


def loads(text: str):
    """Rebuild a SymPy object from :func:`dumps` text with a restricted AST walk (no eval)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tree = ast.parse(text, mode="eval")
    return _build(tree.body)

"""The tiny arithmetic language of derived metrics: metric names, numbers, + - * / and ( )."""

from __future__ import annotations

import ast
from collections.abc import Mapping

_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}


def parse_names(expr: str) -> tuple[str, ...]:
    """The metric names `expr` uses, in order; ValueError on anything but arithmetic."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not an arithmetic expression: {error.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in names:
                names.append(node.id)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise ValueError(f"only numbers are allowed as constants, not {node.value!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ValueError("only + - * / are allowed")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise ValueError("only unary minus is allowed")
        elif not isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            raise ValueError(f"'{type(node).__name__}' is not allowed in a derived metric")
    if not names:
        raise ValueError("a derived metric must use at least one metric")
    return tuple(names)


def evaluate(expr: str, values: Mapping[str, float | None]) -> float | None:
    """Evaluate `expr` with metric values; None (no data, or a division by zero) propagates."""

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            inner = walk(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div) and right == 0:
                return None
            return float(_BINARY[type(node.op)](left, right))
        raise ValueError(f"unexpected {type(node).__name__}")  # parse_names rejected it earlier

    return walk(ast.parse(expr, mode="eval"))

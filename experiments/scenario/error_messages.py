"""Turn pydantic validation errors into one line per problem: ``file:line: path: reason``.

The dotted key path is cleaned of pydantic's internal location parts (union tags,
validator names), the line comes from the YAML key marks, and each reason is short and
lower-case (``must be ≥ 0 (got -1)``, ``unknown key (did you mean 'n_users'?)``).
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from experiments.scenario.marked_yaml import KeyPath, MarkedYaml, format_path

__all__ = ["describe_error", "format_validation_error"]


def _show(value: Any) -> str:
    """Render an offending input value the way it would look in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> str:
    """``0.0`` → ``0``, other values unchanged (bounds read like the user wrote them)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean_loc(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """Drop pydantic's internal loc parts (union tags, validator names) not in the data."""
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif last or not isinstance(current, dict | list):
            path.append(part)
            current = None
    return tuple(path)


def _model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model class describing the mapping at ``path`` (for key suggestions)."""
    model = root
    for part in path:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return model


def _unknown_key_message(root: type[BaseModel], path: KeyPath) -> str:
    model = _model_at(root, path[:-1])
    message = "unknown key"
    if model is not None:
        keys = list(model.model_fields)
        close = difflib.get_close_matches(str(path[-1]), keys, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        else:
            message += f"; allowed keys: {', '.join(keys)}"
    return message


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "list_type": "a list",
    "tuple_type": "a list",
}


def describe_error(
    error: dict[str, Any], path: KeyPath, root: type[BaseModel] | None = None
) -> str:
    """Turn one pydantic error into a short, lower-case reason.

    Args:
        error: One entry of ``ValidationError.errors()``.
        path: The cleaned key path of the error.
        root: The root model, used to suggest a close key for an unknown one.
    """
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = f" (got {_show(error.get('input'))})"
    if kind == "extra_forbidden":
        return _unknown_key_message(root, path) if root is not None else "unknown key"
    if kind == "missing":
        return "required key is missing"
    bounds = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, key = bounds[kind]
        return f"must be {sign} {_number(ctx.get(key))}{got}"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}{got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}{got}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    msg = str(error["msg"])
    return (msg[:1].lower() + msg[1:]) + got


def format_validation_error(exc: ValidationError, marked: MarkedYaml, root: type[BaseModel]) -> str:
    """One line ``file:line: dotted.path: reason`` per error, in file order."""
    problems: list[tuple[int, str]] = []
    for error in exc.errors():
        path = _clean_loc(tuple(error["loc"]), marked.data)
        line = marked.line_of(path)
        where = format_path(path) or "(top level)"
        problems.append(
            (line, f"{marked.source}:{line}: {where}: {describe_error(error, path, root)}")
        )
    problems.sort(key=lambda p: p[0])
    seen: set[str] = set()
    lines = [text for _, text in problems if not (text in seen or seen.add(text))]
    return "\n".join(lines)

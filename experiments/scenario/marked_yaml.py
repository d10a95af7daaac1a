"""YAML reading that remembers where every key is, for error messages with line numbers.

PyYAML's composed node tree carries a start mark (line, column) for each node. We build
the plain Python data from it and, alongside, a map from each key path (a tuple of keys
and list indices) to the 1-based line of that key, so a validation error at a dotted
path can be reported as ``file:line: path: reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from experiments.errors import ScenarioError

__all__ = ["MarkedYaml", "format_path", "load_marked_yaml"]

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class MarkedYaml:
    """Parsed YAML data plus the source line of every key path.

    Attributes:
        data: The document as plain Python objects (``None`` for an empty document).
        lines: 1-based line of each key path; ``()`` maps to the document start.
        source: How to name the file in messages (the path as the user gave it).
    """

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    source: str = "<string>"

    def line_of(self, path: KeyPath) -> int:
        """Line of ``path``, or of its nearest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def format_path(path: KeyPath) -> str:
    """Dotted form of a key path: ``("world", "users", 0, "rate")`` → ``world.users[0].rate``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                where = format_path((*path, key))
                raise ScenarioError(
                    f"{source}:{line}: {where}: duplicate key (first given on line {seen[key]})"
                )
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, source)


def _line_col(text: str, offset: int) -> str:
    """``line:column`` (1-based) of character ``offset`` in ``text``."""
    before = text[:offset]
    return f"{before.count(chr(10)) + 1}:{offset - (before.rfind(chr(10)) + 1) + 1}"


def load_marked_yaml(text: str, source: str) -> MarkedYaml:
    """Parse one YAML document with the safe loader and record the line of every key.

    Args:
        text: The YAML text.
        source: The file name to use in error messages.

    Returns:
        The data and its key-path → line map.

    Raises:
        ScenarioError: On a character YAML does not allow (control characters, a
            binary file), a YAML syntax error (``file:line:col: problem``), more than
            one document, a duplicate key or nesting too deep to parse.
    """
    loader: yaml.SafeLoader | None = None
    try:
        # The loader's constructor already reads the text: PyYAML rejects control
        # characters (NUL, BEL, ...) there, so it belongs inside the ``try``.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and problem.startswith("but "):  # "expected X" + "but found Y"
            problem = f"{exc.context}, {problem}"
        if mark is None:
            raise ScenarioError(f"{source}: YAML syntax error: {problem}") from None
        raise ScenarioError(
            f"{source}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {problem}"
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        char = exc.character
        code = ord(char) if isinstance(char, str) else int(char)
        raise ScenarioError(
            f"{source}:{_line_col(text, exc.position)}: not a text file: control character "
            f"U+{code:04X} (YAML allows printable characters, tab and line breaks)"
        ) from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ScenarioError(f"{source}: YAML error: {detail}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: YAML error: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[KeyPath, int] = {(): 1}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, source)
    return MarkedYaml(data=data, lines=lines, source=source)

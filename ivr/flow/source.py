"""YAML text to plain data whose every scalar stays a string, with the line of each key and value.

`yaml.safe_load` would turn `1:` into an int key, `no` into False and `0123` into 83; admins
write menus and customer numbers, so we compose the node tree ourselves and keep the text. Only
an empty value or `~`/`null` becomes None so that "missing value" errors stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

Data = str | None | list["Data"] | dict[str, "Data"]
Path = tuple[str, ...]

_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass
class Source:
    """Parsed YAML: data plus the 1-based line of every key and value by key path."""

    name: str
    data: Data = None
    key_lines: dict[Path, int] = field(default_factory=dict)
    value_lines: dict[Path, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self, path: Path) -> int:
        """Line of the deepest known element on `path` (its key if it has one)."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.key_lines:
                return self.key_lines[prefix]
            if prefix in self.value_lines:
                return self.value_lines[prefix]
        return 1

    def error(self, path: Path, message: str) -> None:
        self.errors.append(f"{self.name}:{self.line(path)}: {message}")


def parse_yaml(text: str, name: str) -> Source:
    """Parse `text`; a syntax error is recorded in `Source.errors` as `name:line: message`."""
    src = Source(name)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        src.errors.append(f"{name}:{line}: YAML syntax error: {problem}{context}")
        return src
    except yaml.YAMLError as exc:
        src.errors.append(f"{name}:1: YAML error: {exc}")
        return src
    if root is None:
        src.errors.append(f"{name}:1: the file is empty")
        return src
    src.data = _convert(root, (), src)
    return src


def _convert(node: yaml.Node, path: Path, src: Source) -> Data:
    src.value_lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _NULL_TAG and node.style is None:
            return None
        return str(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, str(i)), src) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Data] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                src.errors.append(f"{src.name}:{key_line}: a key must be a plain value")
                continue
            key = str(key_node.value)
            if key in out:
                src.errors.append(f"{src.name}:{key_line}: duplicate key {key!r}")
                continue
            src.key_lines[(*path, key)] = key_line
            out[key] = _convert(value_node, (*path, key), src)
        return out
    src.errors.append(f"{src.name}:{src.value_lines[path]}: unsupported YAML node")
    return None

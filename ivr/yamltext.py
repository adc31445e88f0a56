"""YAML text to plain data whose every scalar stays a string, with the line of each key and value.

`yaml.safe_load` would turn `1:` into an int key, `no` into False and `0123` into 83; admins
write menus and customer numbers, so we compose the node tree ourselves and keep the text. Only
an empty value or `~`/`null` becomes None so that "missing value" errors stay readable.

Admins' files are untrusted input read by a live engine, so a file is first walked as a stream
of parser events (iterative, no node tree) and refused before anything is built if it is not
UTF-8, larger than `MAX_BYTES`, nested deeper than `MAX_DEPTH`, carries a YAML tag, or would
expand (through aliases) to more than `MAX_VALUES` values: a 1 KB "billion laughs" file would
otherwise take gigabytes, and deep nesting would end in a `RecursionError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike

import yaml

Data = str | None | list["Data"] | dict[str, "Data"]
Path = tuple[str, ...]

_STANDARD_TAGS = "tag:yaml.org,2002:"
_NULL_TAG = _STANDARD_TAGS + "null"

# Far above any real flow or catalog (dialplans/hotline.yaml: 12 KB, 7 levels, ~900 values) and
# far below what would hold the engine's reload for more than a moment.
MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_VALUES = 50_000
#: How much of an admin's value an error message repeats.
SHOWN_CHARS = 40


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
    """Parse `text`; every problem is recorded in `Source.errors` as `name:line: message`."""
    src = Source(name)
    problem = _refusal(text, name)
    if problem is not None:
        src.errors.append(problem)
        return src
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        src.errors.append(_yaml_error(exc, text, name))
        return src
    if root is None:
        src.errors.append(f"{name}:1: the file is empty")
        return src
    src.data = _convert(root, (), src)
    return src


def parse_yaml_bytes(raw: bytes, name: str) -> Source:
    """`parse_yaml` on a file's bytes, which must be UTF-8."""
    if len(raw) > MAX_BYTES:
        return Source(name, errors=[f"{name}:1: the file is larger than {MAX_BYTES:,} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return Source(
            name,
            errors=[f"{name}:{line}: not UTF-8 at byte {exc.start} (save the file as UTF-8)"],
        )
    # a BOM is what some Windows editors write at the start of a UTF-8 file: harmless
    return parse_yaml(text.removeprefix("\ufeff"), name)


def read_yaml(path: str | PathLike[str]) -> Source:
    """`parse_yaml_bytes` on a file; one that cannot be read is an error, not an exception."""
    raw = read_bounded(path)
    if isinstance(raw, str):
        return Source(str(path), errors=[raw])
    return parse_yaml_bytes(raw, str(path))


def read_bounded(path: str | PathLike[str]) -> bytes | str:
    """A file's bytes (one more than `MAX_BYTES` at most: enough to tell it is too large), or
    the `name:1: ...` error saying why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return f"{path}:1: cannot read: {exc.strerror or exc}"


def shown(value: object) -> str:
    """`value` as an error message repeats it: quoted, at most `SHOWN_CHARS` characters."""
    text = str(value)
    if len(text) > SHOWN_CHARS:
        return repr(text[:SHOWN_CHARS]) + f"... ({len(text):,} characters)"
    return repr(text)


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _yaml_error(exc: yaml.YAMLError, text: str, name: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        # e.g. a NUL byte: PyYAML gives the character's index, not its line
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        return f"{name}:{_line_at(text, exc.position)}: {char} is not allowed in a YAML file"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return f"{name}:{line}: YAML syntax error: {problem}{context}"
    return f"{name}:1: YAML error: {exc}"


def _refusal(text: str, name: str) -> str | None:
    """Why `text` must not be composed into a node tree (see the module docstring), or None.

    Walks the parser's events once, counting values as they would be after alias expansion.
    """
    expanded = 0
    # per open collection: its anchor and the values in it so far (itself included)
    open_: list[tuple[str | None, int]] = []
    sizes: dict[str, int] = {}  # an anchor's values, once its value is complete
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            tag = getattr(event, "tag", None)
            if tag is not None:
                written = (
                    "!!" + tag.removeprefix(_STANDARD_TAGS)
                    if tag.startswith(_STANDARD_TAGS)
                    else tag
                )
                return f"{name}:{line}: YAML tags such as {shown(written)} are not allowed"
            size = _values_of(event, sizes, open_)
            if isinstance(size, str):
                return f"{name}:{line}: {size}"
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_) == MAX_DEPTH:
                    return f"{name}:{line}: nested deeper than {MAX_DEPTH} levels"
                open_.append((event.anchor, 1))
            elif size:
                if open_:
                    anchor, inside = open_[-1]
                    open_[-1] = (anchor, inside + size)
                else:
                    expanded += size
            if expanded + sum(inside for _, inside in open_) > MAX_VALUES:
                return (
                    f"{name}:{line}: the file expands to more than {MAX_VALUES:,} values "
                    "(aliases repeating aliases?)"
                )
    except yaml.YAMLError as exc:
        return _yaml_error(exc, text, name)
    return None


def _values_of(
    event: yaml.Event, sizes: dict[str, int], open_: list[tuple[str | None, int]]
) -> int | str:
    """Values `event` completes once aliases are expanded (a collection: at its end, popped
    from `open_`), or what is wrong with it. Records the size of each finished anchor."""
    if isinstance(event, yaml.ScalarEvent):
        if event.anchor is not None:
            sizes[event.anchor] = 1
        return 1
    if isinstance(event, yaml.CollectionEndEvent):
        anchor, inside = open_.pop()
        if anchor is not None:
            sizes[anchor] = inside
        return inside
    if isinstance(event, yaml.AliasEvent):
        anchor = event.anchor or ""
        if anchor in sizes:
            return sizes[anchor]
        if any(a == anchor for a, _ in open_):
            return f"alias {shown('*' + anchor)} refers to the value it is part of"
        return f"unknown alias {shown('*' + anchor)}"
    return 0


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

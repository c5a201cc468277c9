"""Load an inventory file: parse with positions, validate whole, report every error at once.

Errors read ``FILE:LINE:COL: field.path: message`` (1-based line and column), like
Prometheus and blackbox_exporter; a bad file never half-loads.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.inventory.model import Inventory

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One problem in a config file."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}"


class ConfigError(Exception):
    """The file is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[ErrorItem]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.col, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


def format_loc(loc: Loc) -> str:
    """Render ("sites", 0, "counters", 3, "agency") as sites[0].counters[3].agency."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class Document:
    """A parsed YAML file: plain data plus the position of every key and value."""

    def __init__(self, file: str, data: Any, values: dict[Loc, Node], keys: dict[Loc, Node]):
        self.file = file
        self.data = data
        self._values = values
        self._keys = keys

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of the deepest known prefix of loc."""
        loc = tuple(loc)
        while loc:
            node = (self._keys.get(loc) if key else None) or self._values.get(loc)
            if node is not None:
                return node.start_mark.line + 1, node.start_mark.column + 1
            loc = loc[:-1]
            key = False
        return 1, 1

    def error(self, loc: Loc, message: str, *, key: bool = False) -> ErrorItem:
        """An ErrorItem positioned at loc."""
        line, col = self.position(loc, key=key)
        return ErrorItem(self.file, line, col, format_loc(loc), message)


def parse_yaml(text: str, file: str) -> Document:
    """Parse YAML text into a Document; raise ConfigError on syntax or duplicate keys."""
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        raise ConfigError(
            [ErrorItem(file, line, col, "", f"YAML syntax error: {problem}")]
        ) from None
    except YAMLError as exc:
        raise ConfigError([ErrorItem(file, 1, 1, "", f"YAML error: {exc}")]) from None
    if root is None:
        raise ConfigError([ErrorItem(file, 1, 1, "", "the file is empty")])

    values: dict[Loc, Node] = {}
    keys: dict[Loc, Node] = {}
    errors: list[ErrorItem] = []

    def build(node: Node, loc: Loc) -> Any:
        values[loc] = node
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            first_seen: dict[Any, Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and str(key_node.tag).endswith(":merge"):
                    errors.append(
                        _at(file, key_node, loc, "YAML merge keys (<<) are not supported")
                    )
                    continue
                key = (
                    build(key_node, (*loc, "<key>"))
                    if not isinstance(key_node, ScalarNode)
                    else yaml.constructor.construct_object(key_node, deep=True)
                )
                if not isinstance(key, str | int | float | bool) and key is not None:
                    errors.append(_at(file, key_node, loc, "mapping keys must be plain scalars"))
                    continue
                if key in first_seen:
                    prev = first_seen[key].start_mark.line + 1
                    errors.append(
                        _at(
                            file,
                            key_node,
                            (*loc, str(key)),
                            f"duplicate key {key!r} (first defined at line {prev})",
                        )
                    )
                    continue
                first_seen[key] = key_node
                child: Loc = (*loc, str(key))
                keys[child] = key_node
                out[str(key) if not isinstance(key, str) else key] = build(value_node, child)
            return out
        if isinstance(node, SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return yaml.constructor.construct_object(node, deep=True)

    values.pop(("<key>",), None)
    data = build(root, ())
    if errors:
        raise ConfigError(errors)
    return Document(file, data, values, keys)


def _at(file: str, node: Node, loc: Loc, message: str) -> ErrorItem:
    return ErrorItem(
        file, node.start_mark.line + 1, node.start_mark.column + 1, format_loc(loc), message
    )


def _clean_loc(data: Any, loc: Sequence[str | int]) -> Loc:
    """Keep only the parts of a pydantic loc that are real data keys (drops union tags).

    A last part that is not in the data (a missing field) is kept: it names the field.
    """
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif i == len(loc) - 1 and isinstance(part, str) and not part[:1].isupper():
            out.append(part)
    return tuple(out)


def _friendly(err: dict[str, Any], model: type[BaseModel], loc: Loc) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        known = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {name!r}{hint}"
    if kind == "missing":
        return "missing required field"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    inp = err.get("input")
    typed = kind in {"literal_error", "enum"} or kind.endswith(("_type", "_parsing"))
    if typed and isinstance(inp, str | int | float | bool):
        msg = f"{msg} (got {inp!r})"
    return msg


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model reached by following loc (best effort, for hints)."""
    import typing

    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return []
        field = cur.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        # unwrap list[X], X | None, Annotated[X, ...]
        for _ in range(4):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            origin = typing.get_origin(ann)
            if origin in (list, typing.Union) or str(origin) in ("<class 'types.UnionType'>",):
                ann = args[0] if args else ann
            elif origin is typing.Annotated:
                ann = args[0]
            elif origin is dict and len(args) == 2:
                ann = args[1]
            else:
                break
        cur = ann
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return []


def validation_errors(
    doc: Document, exc: ValidationError, model: type[BaseModel], base: Loc = ()
) -> list[ErrorItem]:
    """Turn a pydantic ValidationError on (part of) doc into positioned ErrorItems."""
    items: list[ErrorItem] = []
    sub = doc.data
    for part in base:
        sub = sub[part]
    for err in exc.errors(include_url=False):
        loc = _clean_loc(sub, err["loc"])
        message = _friendly(dict(err), model, loc)
        full = (*base, *loc)
        items.append(doc.error(full, message, key=err.get("type") == "extra_forbidden"))
    return items


def load_inventory(path: str | Path, text: str | None = None) -> tuple[Inventory, Document]:
    """Parse and validate an inventory file; raise ConfigError listing every problem."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([ErrorItem(file, 0, 0, "", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([ErrorItem(file, 0, 0, "", f"cannot read file: {exc}")]) from None
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.error((), "the top level must be a mapping with 'sites'")])
    try:
        inv = Inventory.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_errors(doc, exc, Inventory)) from None
    return inv, doc

"""Load an inventory file: parse with positions, validate whole, report every error at once.

Errors read ``FILE:LINE:COL: field.path: message`` (1-based line and column), like
Prometheus and blackbox_exporter; a bad file never half-loads.

A hostile or runaway file is refused before it can cost much: over ``MAX_FILE_BYTES`` it is
not even read, and composing stops at ``MAX_DEPTH`` levels of nesting or ``MAX_NODES`` keys
and values, with one positioned error. docs/config.md lists these limits.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    DocumentStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.fields import INLINE_SECRET
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
        if self.line <= 0:  # the file as a whole (not found, unreadable)
            return f"{self.file}: {where}{self.message}"
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}"


class ConfigError(Exception):
    """The file is invalid; ``errors`` lists every problem found (each once, in file order)."""

    def __init__(self, errors: Sequence[ErrorItem]) -> None:
        # A range of counters repeats its template's mistakes once per number: say it once.
        unique = dict.fromkeys(errors)
        self.errors = sorted(unique, key=lambda e: (e.file, e.line, e.col, e.path, e.message))
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


MAX_FILE_BYTES = 4 * 1024 * 1024  # 4 MiB: a 44-counter building is about 40 KiB
MAX_DEPTH = 64  # levels of nested lists and mappings (a real inventory uses about 10)
MAX_NODES = 100_000  # keys and values as written (a 44-counter building has about 2,000)
_MAX_NODES = 100_000  # values once aliases are expanded


def _compose(yaml: YAML, text: str, file: str) -> Node | None:
    """Compose the single document of text into nodes, without recursion.

    ruamel's own composer recurses once per level (a 500-deep ``[[[...`` is a RecursionError)
    and walks the whole file before anything can be counted; this one reads the parser's
    events (the parser keeps no recursion either) and stops at the first excess: more than
    MAX_DEPTH levels of nesting or MAX_NODES keys and values."""
    resolver = yaml.resolver
    anchors: dict[Any, Node] = {}
    stack: list[list[Any]] = []  # open collections: [node, pending mapping key or None]
    root: Node | None = None
    documents = nodes = 0

    def attach(node: Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        top = stack[-1]
        if isinstance(top[0], SequenceNode):
            top[0].value.append(node)
        elif top[1] is None:
            top[1] = node
        else:
            top[0].value.append((top[1], node))
            top[1] = None

    for event in yaml.parse(text):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise ComposerError(
                    "expected a single document in the stream",
                    root.start_mark if root is not None else None,
                    "but found another document",
                    event.start_mark,
                )
            continue
        if isinstance(event, AliasEvent):
            if event.anchor not in anchors:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            attach(anchors[event.anchor])
            continue
        if isinstance(event, CollectionEndEvent):
            node = stack.pop()[0]
            node.end_mark = event.end_mark
            attach(node)
            continue
        if not isinstance(event, NodeEvent):
            continue  # stream start/end, document end
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError([_at_event(file, event, f"more than {MAX_NODES} keys and values")])
        if not isinstance(event, ScalarEvent) and len(stack) >= MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep"
            raise ConfigError([_at_event(file, event, message)])
        node = _node(resolver, event)
        if event.anchor is not None:
            anchors[event.anchor] = node  # a later anchor of the same name wins (YAML 1.2)
        if isinstance(node, ScalarNode):
            attach(node)
        else:
            stack.append([node, None])
    return root


def _node(resolver: Any, event: Any) -> Node:
    """The node a scalar or collection-start event begins (tags resolved as ruamel does)."""
    kind: Any = (
        ScalarNode
        if isinstance(event, ScalarEvent)
        else SequenceNode
        if isinstance(event, SequenceStartEvent)
        else MappingNode
    )
    tag = event.ctag
    if tag is None or str(tag) == "!":
        tag = resolver.resolve(kind, event.value if kind is ScalarNode else None, event.implicit)
    if kind is ScalarNode:
        return ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
    node: Node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
    return node


def _at_event(file: str, event: Any, message: str) -> ErrorItem:
    mark = event.start_mark
    where = (file, mark.line + 1, mark.column + 1, "")
    return ErrorItem(*where, f"{message}: over the limit (docs/config.md), not loaded")


def parse_yaml(text: str, file: str) -> Document:
    """Parse YAML text into a Document; raise ConfigError on syntax or duplicate keys."""
    if len(text) > MAX_FILE_BYTES:  # text handed in directly (a file is checked when read)
        raise ConfigError([_too_large(file, len(text.encode("utf-8")))])
    yaml = YAML(typ="safe", pure=True)
    try:
        root = _compose(yaml, text, file)
    except MarkedYAMLError as exc:
        raise ConfigError([_syntax_error(file, exc)]) from None
    except YAMLError as exc:
        raise ConfigError([ErrorItem(file, 1, 1, "", f"YAML error: {exc}")]) from None
    if root is None:
        raise ConfigError([ErrorItem(file, 1, 1, "", "the file is empty")])

    values: dict[Loc, Node] = {}
    keys: dict[Loc, Node] = {}
    errors: list[ErrorItem] = []
    ancestors: set[int] = set()  # ids of the nodes on the current path (alias loops)
    budget = [_MAX_NODES]  # aliases can multiply a small file into a huge tree

    def scalar(node: Node, loc: Loc) -> Any:
        try:
            return yaml.constructor.construct_object(node, deep=True)
        except MarkedYAMLError as exc:  # an unknown tag such as !foo
            problem = (exc.problem or "cannot read this value").strip()
            errors.append(_at(file, node, loc, f"YAML error: {problem}"))
        except (ValueError, TypeError, OverflowError):
            # 2026-02-30 looks like a date but is not one: keep the text and let the
            # field's validation judge it, with every other error of the file
            pass
        return node.value

    def build(node: Node, loc: Loc) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(
                [_at(file, node, loc, f"the document expands to more than {_MAX_NODES} values")]
            )
        if id(node) in ancestors:
            errors.append(_at(file, node, loc, "an alias refers to a value that contains it"))
            return None
        values[loc] = node
        if isinstance(node, MappingNode | SequenceNode):
            ancestors.add(id(node))
            try:
                return collection(node, loc)
            finally:
                ancestors.discard(id(node))
        return scalar(node, loc)

    def collection(node: Node, loc: Loc) -> Any:
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
                    else scalar(key_node, loc)
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
        return [build(item, (*loc, i)) for i, item in enumerate(node.value)]

    data = build(root, ())
    if errors:
        raise ConfigError(errors)
    return Document(file, data, values, keys)


def _syntax_error(file: str, exc: MarkedYAMLError) -> ErrorItem:
    """One positioned error for a YAML syntax error, with a hint for the usual causes."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = (exc.problem or "invalid YAML").strip()
    context = (exc.context or "").strip()
    ctx_mark = exc.context_mark
    if context:
        problem = f"{problem} {context}"
        if ctx_mark is not None and exc.problem_mark is not None and ctx_mark.line + 1 != line:
            problem += f" started at line {ctx_mark.line + 1}, column {ctx_mark.column + 1}"
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    elif "expected <block end>" in problem or "mapping values are not allowed" in problem:
        problem += " (check the indentation)"
    return ErrorItem(file, line, col, "", f"YAML syntax error: {problem}")


def _at(file: str, node: Node, loc: Loc, message: str) -> ErrorItem:
    return ErrorItem(
        file, node.start_mark.line + 1, node.start_mark.column + 1, format_loc(loc), message
    )


def _clean_loc(data: Any, loc: Sequence[str | int]) -> tuple[Loc, bool]:
    """Keep only the parts of a pydantic loc that are real data keys (drops union tags).

    A last part that is not in the data (a missing field) is kept: it names the field.
    Returns the loc and whether the error is about a mapping key rather than its value.
    """
    out: list[str | int] = []
    cur = data
    about_key = False
    for i, part in enumerate(loc):
        if part == "[key]":  # pydantic's marker for an invalid dict key
            about_key = True
            break
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif (
            i == len(loc) - 1
            and isinstance(part, str)
            and not part[:1].isupper()
            and not any(c in part for c in "[(,")
        ):
            out.append(part)
    return tuple(out), about_key


# Field names whose given value is never repeated in a message (it may be a secret).
_SECRET_WORDS = ("token", "password", "secret", "key", "auth")


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) > 60:
        value = value[:57] + "..."
    return repr(value)


def _friendly(err: dict[str, Any], model: type[BaseModel], loc: Loc) -> str:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid value"))
    ctx: dict[str, Any] = err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        known = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {name!r}{hint}"
    if kind == "missing":
        return "missing required field"
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        expected = ", ".join(repr(t) for t in tags[:-1])
        expected += f" or {tags[-1]!r}" if tags else ""
        if kind == "union_tag_not_found":
            return f"missing {str(ctx.get('discriminator', 'kind')).strip(chr(39))!r}: {expected}"
        got = ctx.get("tag")
        hint = " (WhatsApp is kind waha or fonnte: the gateway)" if got == "whatsapp" else ""
        return f"expected {expected} (got {got!r}){hint}"
    inp = err.get("input")
    field = str(loc[-1]).lower() if loc else ""
    secret = any(w in field for w in _SECRET_WORDS)
    bounds = {
        "greater_than": "must be greater than {gt}",
        "greater_than_equal": "must be at least {ge}",
        "less_than": "must be less than {lt}",
        "less_than_equal": "must be at most {le}",
        "too_short": "needs at least {min_length} item(s)",
        "too_long": "allows at most {max_length} item(s)",
        "list_type": "expected a list",
        "dict_type": "expected a mapping",
        "model_type": "expected a mapping",
        "model_attributes_type": "expected a mapping",
        "string_type": "expected a string",
        "bool_type": "expected true or false",
        "bool_parsing": "expected true or false",
        "int_type": "expected a whole number",
        "int_parsing": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_type": "expected a number",
        "float_parsing": "expected a number",
        "finite_number": "expected a finite number",
        "date_type": "expected a date (YYYY-MM-DD)",
        "date_parsing": "expected a date (YYYY-MM-DD)",
        "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
        "datetime_type": "expected a date and time (YYYY-MM-DD HH:MM)",
        "datetime_parsing": "expected a date and time (YYYY-MM-DD HH:MM)",
        "datetime_from_date_parsing": "expected a date and time (YYYY-MM-DD HH:MM)",
    }
    if secret and kind in {"model_type", "model_attributes_type"}:
        # a plain value where a {env: ...} / {file: ...} reference belongs
        return INLINE_SECRET
    if kind in bounds:
        try:
            msg = bounds[kind].format(**ctx)
            if kind == "too_short" and ctx.get("min_length") == 1:
                msg = "must not be empty"
        except (KeyError, IndexError):
            pass
    else:
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        if msg.startswith("Input should be "):
            msg = "expected " + msg[len("Input should be ") :]
    shown = kind in bounds or kind in {"literal_error", "enum"}
    shown = shown or kind.endswith(("_type", "_parsing"))
    if shown and not secret and isinstance(inp, str | int | float | bool | None):
        if kind in {"too_short", "too_long"}:
            pass
        elif kind not in {"model_type", "model_attributes_type"}:
            msg = f"{msg} (got {_show(inp)})"
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
        # base may name data the YAML does not spell out (a shorthand, defaults):
        # the errors then point at the deepest part that exists.
        if isinstance(sub, dict) and part in sub:
            sub = sub[part]
        elif isinstance(sub, list) and isinstance(part, int) and 0 <= part < len(sub):
            sub = sub[part]
        else:
            sub = {}
    for err in exc.errors(include_url=False):
        loc, about_key = _clean_loc(sub, err["loc"])
        if err.get("type") == "union_tag_invalid":  # point at the tag itself (kind: ...)
            loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "kind")).strip("'"))
        message = _friendly(dict(err), model, loc)
        if about_key and loc:
            message = f"invalid key: {message}"
        full = (*base, *loc)
        key = about_key or err.get("type") == "extra_forbidden"
        items.append(doc.error(full, message, key=key))
    return items


def _too_large(file: str, size: int) -> ErrorItem:
    mib = MAX_FILE_BYTES // (1024 * 1024)
    return ErrorItem(
        file,
        0,
        0,
        "",
        f"the file is {size / 2**20:.1f} MiB: over the {mib} MiB limit (docs/config.md), not read",
    )


def read_config_text(path: str | Path) -> str:
    """Read a config file as UTF-8; raise ConfigError naming the file when it cannot be read.

    Reads at most MAX_FILE_BYTES + 1 bytes: a larger file (or an endless one such as
    /dev/zero) is refused without reading the rest."""
    file = str(path)
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                st = os.fstat(f.fileno())
                raise ConfigError([_too_large(file, max(st.st_size, len(data)))])
        return data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([ErrorItem(file, 0, 0, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ErrorItem(file, 0, 0, "", f"cannot read file: {exc}")]) from None


def load_inventory(path: str | Path, text: str | None = None) -> tuple[Inventory, Document]:
    """Parse and validate an inventory file; raise ConfigError listing every problem."""
    file = str(path)
    if text is None:
        text = read_config_text(path)
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.error((), "the top level must be a mapping with 'sites'")])
    try:
        inv = Inventory.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_errors(doc, exc, Inventory)) from None
    return inv, doc

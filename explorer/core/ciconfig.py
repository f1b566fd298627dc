"""A `.dive-ci` file read as dive reads it: YAML parsed by a real parser (PyYAML), each scalar
typed by Go's yaml.v3 rules, keys looked up case-insensitively as viper does, each rule value
turned to text as viper's GetString does.

What differs from YAML 1.1 (PyYAML's own typing): only `true`/`false` in three spellings are
booleans (`yes`, `on` are text); integers are Go's (`010` is octal 8, `0o17`, `0b101`, `0x1F`,
`_` ignored); a duplicate key in any mapping is an error; only the first document is read."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import yaml

from explorer.core.ci import RULES
from explorer.core.errors import ConfigError

MAX_BYTES = 1 << 20  # a rules file is a few lines: beyond this it is not one


_PLAIN = "!plain"  # the tag of an untagged plain scalar, typed below as yaml.v3 types it
_TYPED = {_PLAIN} | {f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")}


class _Resolver(yaml.resolver.BaseResolver):
    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


class _Loader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INF, _NAN = (".inf", ".Inf", ".INF"), (".nan", ".NaN", ".NAN")
_SPECIAL = {s: math.nan for s in _NAN} | {s: math.inf for s in _INF}
_SPECIAL |= {"+" + s: math.inf for s in _INF} | {"-" + s: -math.inf for s in _INF}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_BASES = {"x": 16, "o": 8, "b": 2}


def _go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64), else ParseUint: None when neither takes it."""
    m = _INT.fullmatch(text)
    if m is None:
        return None
    digits = m.group(2)
    if len(digits) > 1 and digits[1] in "xXoObB":
        value = int(digits[2:], _BASES[digits[1].lower()])
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    if m.group(1) == "-":
        value = -value
    return value if -(1 << 63) <= value < (1 << 64) else None


def _plain(text: str) -> Any:
    """A plain scalar typed as yaml.v3 types it (timestamps stay text)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL:
        return _SPECIAL[text]
    if not text or text[0] not in "+-.0123456789":
        return text
    number = text.replace("_", "") if text[0] != "." else text
    as_int = _go_int(number)
    if as_int is not None:
        return as_int
    if _FLOAT.fullmatch(number):
        value = float(number)
        if not math.isinf(value):  # Go: out of range, an error: the text stays text
            return value
    return text


def viper_string(value: Any) -> str:
    """viper's GetString (spf13/cast ToString) of a decoded value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, str):
        return value
    return ""  # a list or a mapping: cast cannot, GetString gives ""


class _Decoder:
    """Nodes to values; a node reached through several aliases is decoded once."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}

    def value(self, node: yaml.Node) -> Any:
        if id(node) not in self.done:
            self.done[id(node)] = self._decode(node)
        return self.done[id(node)]

    def _decode(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return _plain(node.value) if node.tag in _TYPED else node.value
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item) for item in node.value]
        assert isinstance(node, yaml.MappingNode), "a composed node is one of the three kinds"
        return self._mapping(node)

    def _mapping(self, node: yaml.MappingNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        seen: dict[tuple[type, str], int] = {}
        for key, value in node.value:
            raw = (type(key), key.value if isinstance(key, yaml.ScalarNode) else "")
            if raw in seen:
                raise ConfigError(
                    f"line {key.start_mark.line + 1}: mapping key {raw[1]!r} already defined "
                    f"at line {seen[raw]}"
                )
            seen[raw] = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.tag == _PLAIN and key.value == "<<":
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in sources:
                    decoded = self.value(source)
                    if not isinstance(decoded, dict):
                        raise ConfigError("map merge requires map or sequence of maps")
                    merged |= decoded
                continue
            out[viper_string(self.value(key)).lower()] = self.value(value)  # viper: keys lowercased
        return merged | out


_MISSING = object()


def _find(config: Any, path: list[str]) -> Any:
    """viper's lookup of a dotted key: the longest matching prefix first (a key may itself
    hold dots), descending into mappings."""
    if not path:
        return config
    if not isinstance(config, dict):
        return _MISSING
    for i in range(len(path), 0, -1):
        key = ".".join(path[:i])
        if key in config:
            found = config[key] if i == len(path) else _find(config[key], path[i:])
            if found is not _MISSING and found is not None:
                return found
    return _MISSING


def rules_of(text: str) -> dict[str, str]:
    """The rule values a `.dive-ci` text sets (a rule it does not set is absent: its default
    applies); ConfigError when dive refuses the file."""
    try:
        loader = _Loader(text)
        try:
            # dive reads the first document only.
            root = loader.get_node() if loader.check_node() else None
        finally:
            loader.dispose()
        config = _Decoder().value(root) if root is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    except RecursionError:
        raise ConfigError("nested too deeply") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        kind = "a sequence" if isinstance(config, list) else f"the value {viper_string(config)!r}"
        raise ConfigError(f"the document is {kind}, not a mapping")
    rules: dict[str, str] = {}
    parent = _find(config, ["rules"])
    # A `rules` that is there but no mapping hides every rule: viper then reads "" for each.
    shadowed = parent is not _MISSING and not isinstance(parent, dict)
    for name in RULES:
        value = _find(config, ["rules", name.lower()])
        if value is not _MISSING:
            rules[name] = viper_string(value)
        elif shadowed:
            rules[name] = ""
    return rules


def read_rules_file(path: str) -> dict[str, str]:
    """The rules of the `.dive-ci` file at `path` (see `rules_of`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"failed to read CI config file {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES >> 10} KiB: not a rules file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        return rules_of(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

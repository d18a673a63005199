"""Fast validity predicates for the Draft 7 subset that vocabularies use.

A Draft 7 schema is turned into Python source: statements that ``return False`` at the first
failed keyword. Every value taken from the schema (names, patterns, constants, bounds) enters
the generated code as a namespace variable, never as source text, so a schema cannot inject
code. Combinators (anyOf, oneOf, not, if, contains) call generated helper functions. Keywords
outside the subset raise ``_NotCompilable`` and :func:`compile_predicate` returns None, so
jsonschema decides alone. jsonschema itself validated at ~150 µs per record, too slow for
bulk imports; the property test in ``tests/unit/test_validation.py`` checks that both always
agree, and jsonschema still explains every failure.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jsonschema import Draft7Validator  # type: ignore[import-untyped]

_Check = Callable[[Any], bool]


class _NotCompilable(Exception):
    """The schema uses a keyword the fast path does not implement."""


def compile_predicate(schema: Any) -> _Check | None:
    """A fast ``is valid`` predicate for ``schema``, or None if it uses keywords outside the subset."""
    try:
        return _Emitter().compile(schema)
    except Exception:  # anything unusual (deep nesting, odd values): jsonschema alone decides
        return None


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return type(x) in (int, float) or (not isinstance(x, bool) and isinstance(x, numbers.Number))


def _json_equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: bools differ from 0 and 1, sequences and mappings deeply."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_json_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and _json_equal(v, two[k]) for k, v in one.items())
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # ``one is two`` covered equal bools; a bool never equals a number
    return bool(one == two)


def _any_equal(value: Any, options: tuple[Any, ...]) -> bool:
    return any(_json_equal(option, value) for option in options)


_TYPE_TESTS = {"string": "isinstance({v}, str)", "object": "isinstance({v}, dict)",
               "array": "isinstance({v}, list)", "boolean": "isinstance({v}, bool)",
               "null": "{v} is None", "integer": "_is_integer({v})", "number": "_is_number({v})",
               "datetime": "isinstance({v}, _datetime)"}
_GATED = {"string": ("pattern", "minLength", "maxLength"),
          "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
          "array": ("minItems", "maxItems", "items", "contains"),
          "object": ("required", "properties", "additionalProperties", "propertyNames",
                     "minProperties", "maxProperties")}
_GENERAL = ("type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if")
_SUPPORTED = frozenset(_GENERAL).union(*_GATED.values())
_UNSUPPORTED = frozenset(Draft7Validator.VALIDATORS) - _SUPPORTED - {"format"}  # format: annotation
_COMPARISONS = {"minLength": "len({v}) < {k}", "maxLength": "len({v}) > {k}",
                "minItems": "len({v}) < {k}", "maxItems": "len({v}) > {k}",
                "minProperties": "len({v}) < {k}", "maxProperties": "len({v}) > {k}",
                "minimum": "{v} < {k}", "maximum": "{v} > {k}",
                "exclusiveMinimum": "{v} <= {k}", "exclusiveMaximum": "{v} >= {k}",
                "pattern": "{k}.search({v}) is None"}
_MAX_INLINE_DEPTH = 8


class _Emitter:
    """Writes the Python source of one schema's predicate."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_is_integer": _is_integer, "_is_number": _is_number,
                                          "_json_equal": _json_equal, "_any_equal": _any_equal,
                                          "_datetime": datetime}
        self.functions: list[str] = []
        self.count = 0

    def compile(self, schema: Any) -> _Check:
        root = self.function(schema)
        exec(compile("\n".join(self.functions), "<signalstore_es schema>", "exec"), self.namespace)
        check: _Check = self.namespace[root]
        return check

    def name(self, prefix: str, value: Any = None) -> str:
        self.count += 1
        name = f"{prefix}{self.count}"
        if prefix == "k":
            self.namespace[name] = value
        return name

    def function(self, schema: Any) -> str:
        name, body = self.name("f"), self.block(schema, "x", 1)
        self.functions.append("\n".join([f"def {name}(x):", *body, "    return True"]))
        return name

    def block(self, schema: Any, v: str, depth: int) -> list[str]:
        """Lines (indented ``depth`` levels) that return False unless ``v`` fits ``schema``."""
        pad = "    " * depth
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False"]
        if not isinstance(schema, dict) or "$ref" in schema or not _UNSUPPORTED.isdisjoint(schema):
            raise _NotCompilable(str(schema)[:80])
        if depth > _MAX_INLINE_DEPTH:
            return [f"{pad}if not {self.function(schema)}({v}): return False"]
        lines: list[str] = []
        for keyword in _GENERAL:
            if keyword in schema:
                lines += getattr(self, f"emit_{keyword}")(schema[keyword], schema, v, depth)
        declared = schema.get("type")
        for gate, keywords in _GATED.items():
            inner: list[str] = []
            sure = declared == gate or (gate == "number" and declared == "integer")
            for keyword in keywords:
                if keyword in schema:
                    inner += self.emit_gated(keyword, schema, v, depth + (0 if sure else 1))
            if inner and not sure:
                lines += [f"{pad}if {_TYPE_TESTS[gate].format(v=v)}:"]
            lines += inner
        return lines

    # -- keywords that apply to every type ---------------------------------------------------
    def emit_type(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        tests = " or ".join(_TYPE_TESTS[t].format(v=v) for t in ([value] if isinstance(value, str) else value))
        return [f"{'    ' * depth}if not ({tests}): return False"]

    def emit_enum(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        if not isinstance(value, list):
            raise _NotCompilable("enum")
        if all(isinstance(each, str) for each in value):
            k = self.name("k", frozenset(value))
            return [f"{'    ' * depth}if not (isinstance({v}, str) and {v} in {k}): return False"]
        k = self.name("k", tuple(value))
        return [f"{'    ' * depth}if not _any_equal({v}, {k}): return False"]

    def emit_const(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        k, pad = self.name("k", value), "    " * depth
        if isinstance(value, str):
            return [f"{pad}if not ({v} == {k}): return False"]
        if isinstance(value, bool) or value is None:
            return [f"{pad}if {v} is not {k}: return False"]
        if isinstance(value, list) and all(isinstance(each, str) for each in value):
            return [f"{pad}if not ({v} == {k} if isinstance({v}, list) else _json_equal({v}, {k})): return False"]
        return [f"{pad}if not _json_equal({v}, {k}): return False"]

    def emit_allOf(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        return [line for sub in value for line in self.block(sub, v, depth)]

    def emit_anyOf(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        if any(sub is True or sub == {} for sub in value):
            return []
        tests = " or ".join(f"{self.function(sub)}({v})" for sub in value)
        return [f"{'    ' * depth}if not ({tests}): return False"]

    def emit_oneOf(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        tests = " + ".join(f"{self.function(sub)}({v})" for sub in value)
        return [f"{'    ' * depth}if ({tests}) != 1: return False"]

    def emit_not(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        return [f"{'    ' * depth}if {self.function(value)}({v}): return False"]

    def emit_if(self, value: Any, schema: Any, v: str, depth: int) -> list[str]:
        pad = "    " * depth
        then = self.block(schema.get("then", True), v, depth + 1)
        otherwise = self.block(schema.get("else", True), v, depth + 1)
        if not then and not otherwise:
            return []
        lines = [f"{pad}if {self.function(value)}({v}):", *(then or [f"{pad}    pass"])]
        return lines + ([f"{pad}else:", *otherwise] if otherwise else [])

    # -- keywords that apply to one type ------------------------------------------------------
    def emit_gated(self, keyword: str, schema: Any, v: str, depth: int) -> list[str]:
        value, pad = schema[keyword], "    " * depth
        if keyword in _COMPARISONS:
            if keyword == "pattern":
                value = re.compile(value)
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _NotCompilable(keyword)
            test = _COMPARISONS[keyword].format(v=v, k=self.name("k", value))
            return [f"{pad}if {test}: return False"]
        return getattr(self, f"emit_{keyword}")(value, schema, v, depth)  # type: ignore[no-any-return]

    def emit_required(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        if not value:
            return []
        tests = " and ".join(f"{self.name('k', name)} in {v}" for name in value)
        return [f"{'    ' * depth}if not ({tests}): return False"]

    def emit_properties(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        pad, lines = "    " * depth, []
        for name, sub in value.items():
            item = self.name("v")
            body = self.block(sub, item, depth + 1)
            if body:
                k = self.name("k", name)
                lines += [f"{pad}if {k} in {v}:", f"{pad}    {item} = {v}[{k}]", *body]
        return lines

    def emit_additionalProperties(self, value: Any, schema: Any, v: str, depth: int) -> list[str]:
        pad, known = "    " * depth, self.name("k", frozenset(schema.get("properties", {})))
        if value is False:
            return [f"{pad}if not {known}.issuperset({v}): return False"]
        key, item = self.name("v"), self.name("v")
        body = self.block(value, item, depth + 2)
        if not body:
            return []
        return [f"{pad}for {key}, {item} in {v}.items():", f"{pad}    if {key} not in {known}:", *body]

    def emit_propertyNames(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        item = self.name("v")
        body = self.block(value, item, depth + 1)
        return [f"{'    ' * depth}for {item} in {v}:", *body] if body else []

    def emit_items(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        pad = "    " * depth
        if isinstance(value, list):
            lines = []
            for index, sub in enumerate(value):
                item = self.name("v")
                body = self.block(sub, item, depth + 1)
                if body:
                    lines += [f"{pad}if len({v}) > {index}:", f"{pad}    {item} = {v}[{index}]", *body]
            return lines
        item = self.name("v")
        body = self.block(value, item, depth + 1)
        return [f"{pad}for {item} in {v}:", *body] if body else []

    def emit_contains(self, value: Any, _: Any, v: str, depth: int) -> list[str]:
        return [f"{'    ' * depth}if not any(map({self.function(value)}, {v})): return False"]

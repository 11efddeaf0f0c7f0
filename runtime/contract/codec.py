"""JSON data to and from the contract's typed definitions, checked on the way in.

``from_data(cls, data)`` builds a frozen dataclass (or checks a TypedDict)
from parsed JSON, field by field, against the declared types, and raises
``ContractError`` listing every problem with its JSON path
(``/lifecycle/states/3/sla/0/budget/kind: ...``). ``to_data(obj)`` is the
inverse: plain dicts, lists, strings, numbers, booleans and ``None``.

The types understood are the ones the contract uses: dataclasses and
TypedDicts, ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``Literal[...]``, unions, ``tuple[X, ...]`` and fixed tuples, ``list[X]`` and
``dict[str, X]``. Numbers are checked finite and within ``MAX_NUMBER``
(JSON parsers accept ``NaN``, ``Infinity`` and integers of any length);
a ``bool`` is never taken for a number. A field named with a trailing ``_``
(``from_``) is the JSON key without it; a field with ``metadata={"omit_none":
True}`` is left out of the JSON when it is ``None``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_NUMBER = 2.0**53
"""the largest magnitude of a number: every integer up to it is exact as a float"""
MAX_PROBLEMS = 20
"""problems listed in one ``ContractError`` (the rest are counted)"""


class ContractError(ValueError):
    """Data that does not match its declared type; ``problems`` holds each with its path."""

    def __init__(self, what: str, problems: list[str], total: int) -> None:
        more = f" (and {total - len(problems)} more)" if total > len(problems) else ""
        super().__init__(f"{what} does not match its format: " + "; ".join(problems) + more)
        self.problems = problems


class _Problems:
    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.total = 0

    def add(self, path: str, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(f"{path or '/'}: {message}")


Conv = Callable[[Any, str, _Problems], Any]
_CONVERTERS: dict[Any, Conv] = {}


def from_data(cls: type[T], data: Any, what: str = "the data") -> T:
    """``data`` as an instance of ``cls``; ``ContractError`` lists what does not match."""
    problems = _Problems()
    value = _converter(cls)(data, "", problems)
    if problems.total:
        raise ContractError(what, problems.items, problems.total)
    return typing.cast(T, value)


def to_data(obj: Any) -> Any:
    """A dataclass tree as plain JSON-ready data (dicts in field order, lists for tuples)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[json_name(f.name)] = to_data(value)
        return out
    if isinstance(obj, list | tuple):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def json_name(field_name: str) -> str:
    """The JSON key of a field: its name without a trailing ``_``."""
    return field_name[:-1] if field_name.endswith("_") else field_name


# -- converters, built once per type ------------------------------------------------------


def _converter(tp: Any) -> Conv:
    conv = _CONVERTERS.get(tp)
    if conv is None:
        conv = _CONVERTERS[tp] = _build(tp)
    return conv


def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules.get(cls.__module__)
    return typing.get_type_hints(cls, vars(module) if module else None)


def _build(tp: Any) -> Conv:
    if tp is Any:
        return lambda v, p, probs: v
    if tp is type(None) or tp is None:
        return _none
    if tp is str:
        return _str
    if tp is bool:
        return _bool
    if tp is int:
        return _int
    if tp is float:
        return _float
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if typing.is_typeddict(tp):
        return _typeddict(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return _literal(args)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(_converter(args[0]), tuple)
        return _fixed_tuple(tuple(_converter(a) for a in args))
    if origin is list:
        return _sequence(_converter(args[0]), list)
    if origin is dict:
        return _mapping(_converter(args[1]))
    raise TypeError(f"the contract codec does not handle {tp!r}")


def _none(v: Any, path: str, probs: _Problems) -> Any:
    if v is not None:
        probs.add(path, f"expected null, got {_kind(v)}")
    return None


def _str(v: Any, path: str, probs: _Problems) -> Any:
    if not isinstance(v, str):
        probs.add(path, f"expected a string, got {_kind(v)}")
        return ""
    return v


def _bool(v: Any, path: str, probs: _Problems) -> Any:
    if not isinstance(v, bool):
        probs.add(path, f"expected true or false, got {_kind(v)}")
        return False
    return v


def _int(v: Any, path: str, probs: _Problems) -> Any:
    if isinstance(v, bool) or not isinstance(v, int):
        probs.add(path, f"expected an integer, got {_kind(v)}")
        return 0
    if abs(v) > MAX_NUMBER:
        probs.add(path, f"the integer is out of range (at most {MAX_NUMBER:.0f} in magnitude)")
        return 0
    return v


def _float(v: Any, path: str, probs: _Problems) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        probs.add(path, f"expected a number, got {_kind(v)}")
        return 0.0
    if isinstance(v, int) and abs(v) > MAX_NUMBER:
        probs.add(path, f"the number is out of range (at most {MAX_NUMBER:.0f} in magnitude)")
        return 0.0
    if isinstance(v, float) and (not math.isfinite(v) or abs(v) > MAX_NUMBER):
        probs.add(path, f"the number {v!r} is not finite or out of range")
        return 0.0
    return float(v)


def _literal(values: tuple[Any, ...]) -> Conv:
    allowed = ", ".join(f"`{x}`" for x in values)

    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not any(v == x and type(v) is type(x) for x in values):
            probs.add(path, f"expected one of {allowed}, got {_show(v)}")
            return values[0]
        return v

    return conv


def _union(args: tuple[Any, ...]) -> Conv:
    convs = [_converter(a) for a in args]
    nullable = type(None) in args

    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if v is None and nullable:
            return None
        first: _Problems | None = None
        for c in convs:
            trial = _Problems()
            out = c(v, path, trial)
            if not trial.total:
                return out
            if first is None or (first.items and first.items[0].endswith("got null")):
                first = trial
        assert first is not None
        for item in first.items:
            probs.add(*item.split(": ", 1))
        return None

    return conv


def _sequence(item: Conv, kind: type) -> Conv:
    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not isinstance(v, list | tuple):
            probs.add(path, f"expected a list, got {_kind(v)}")
            return kind()
        return kind(item(x, f"{path}/{i}", probs) for i, x in enumerate(v))

    return conv


def _fixed_tuple(items: tuple[Conv, ...]) -> Conv:
    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not isinstance(v, list | tuple) or len(v) != len(items):
            probs.add(path, f"expected a list of {len(items)} items, got {_kind(v)}")
            return tuple(None for _ in items)
        return tuple(c(x, f"{path}/{i}", probs) for i, (c, x) in enumerate(zip(items, v, strict=True)))

    return conv


def _mapping(value: Conv) -> Conv:
    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not isinstance(v, dict):
            probs.add(path, f"expected an object, got {_kind(v)}")
            return {}
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                probs.add(path, f"expected text keys, got {_kind(k)}")
                continue
            out[k] = value(x, f"{path}/{_escape(k)}", probs)
        return out

    return conv


def _dataclass(cls: type) -> Conv:
    hints = _hints(cls)
    # attribute, JSON key, whether the field may be left out
    fields = [(f.name, json_name(f.name), f.default is not dataclasses.MISSING
               or f.default_factory is not dataclasses.MISSING) for f in dataclasses.fields(cls)]
    keys = frozenset(key for _, key, _ in fields)
    convs: list[tuple[str, str, bool, Conv]] = []

    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not convs:  # on first use: the types of the fields may refer to each other
            convs.extend((name, key, optional, _converter(hints[name])) for name, key, optional in fields)
        if not isinstance(v, dict):
            probs.add(path, f"expected an object ({cls.__name__}), got {_kind(v)}")
            return None
        kwargs = {}
        complete = True
        for name, key, optional, c in convs:
            if key in v:
                kwargs[name] = c(v[key], f"{path}/{key}", probs)
            elif not optional:
                probs.add(path, f"missing `{key}`")
                complete = False
        if len(v) > len(kwargs):
            for k in v:
                if k not in keys:
                    probs.add(f"{path}/{_escape(str(k))}", f"unknown field of {cls.__name__}")
        return cls(**kwargs) if complete else None

    return conv


def _typeddict(cls: Any) -> Conv:
    hints = typing.get_type_hints(cls)
    required = frozenset(cls.__required_keys__)
    convs: dict[str, Conv] = {}

    def conv(v: Any, path: str, probs: _Problems) -> Any:
        if not convs:
            convs.update({k: _converter(t) for k, t in hints.items()})
        if not isinstance(v, dict):
            probs.add(path, f"expected an object ({cls.__name__}), got {_kind(v)}")
            return {}
        for k in sorted(required - v.keys()):
            probs.add(path, f"missing `{k}`")
        out = {}
        for k, x in v.items():
            c = convs.get(k)
            if c is None:
                probs.add(f"{path}/{_escape(str(k))}", f"unknown field of {cls.__name__}")
                continue
            out[k] = c(x, f"{path}/{_escape(k)}", probs)
        return out

    return conv


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list | tuple):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _show(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else f"`{v}`"
    return text if len(text) <= 60 else text[:57] + "..."

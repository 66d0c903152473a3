"""The few lines that parse the settings (``shared.core.config``) without pydantic.

Every function reads its settings at its first call; a pydantic model of ~80 fields cost each
cold start the building of its validator (about 8% of ``import pymongo``, issue 14). The
settings keep pydantic's way of being declared (``NAME: type = Field(default, ge=..)``,
``@field_validator``) and its lax-mode answers for what an environment holds (strings):

- ``int``: an optional sign, ASCII digits (``_`` between them), surrounding whitespace, a
  fraction of zeros (``"5.0"``, not ``"5."``); ``float``: what ``float()`` reads from
  ASCII, whitespace stripped; ``bool``: ``1/0 true/false t/f yes/no y/n on/off`` in any
  case, nothing else; ``str``: as given; ``Literal``: one of its values exactly;
  ``Optional[...]``: also None.
- constraints ``ge gt le lt`` (numbers), ``pattern min_length max_length`` (strings); a
  pattern is searched for as pydantic's Rust regex does (``$`` is the very end).
- ``field_validator(*names, mode="before" | "after")``: a classmethod taking the value; a
  ValueError (or AssertionError) makes the field invalid.
- unknown names are ignored, defaults are taken as declared (not validated), the object is
  frozen, and every invalid field is named (in declaration order) by ``InvalidSettings``.

tests/unit/test_settings_model.py holds these to what pydantic answers for the same fields.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Callable, ClassVar, Literal, Optional, TypeVar, Union, get_args, get_origin

from shared.core.records import record

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?", re.ASCII)
_CONSTRAINTS = ("ge", "gt", "le", "lt", "pattern", "min_length", "max_length")


class InvalidSettings(ValueError):
    """Settings that do not parse: ``fields`` names each invalid one."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__("invalid settings: " + ", ".join(fields))
        self.fields = fields


@record(frozen=True)
class FieldInfo:
    """A setting as declared: what ``Settings.model_fields`` holds (as pydantic's does)."""
    default: Any = None
    description: Optional[str] = None
    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None
    pattern: Optional[str] = None
    min_length: Optional[int] = None
    max_length: Optional[int] = None
    annotation: Any = None


def Field(default: Any = None, *, description: Optional[str] = None, **constraints: Any) -> Any:
    """A setting's default and constraints, as pydantic's ``Field`` takes them."""
    unknown = set(constraints) - set(_CONSTRAINTS)
    if unknown:
        raise TypeError(f"settings support only {', '.join(_CONSTRAINTS)}: not {unknown}")
    return FieldInfo(default=default, description=description, **constraints)


F = TypeVar("F")


def field_validator(*names: str, mode: Literal["before", "after"] = "after") \
        -> Callable[[F], F]:
    """Mark a classmethod as the validator of ``names``, run before or after the type check."""
    def mark(method: F) -> F:
        function: Any = getattr(method, "__func__", method)
        function._settings_validates = (names, mode)
        return method
    return mark


class _Invalid(Exception):
    pass


def _scalar(kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` (int, float, bool, str), pydantic's lax way; _Invalid if not."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value.strip().split(".")[0].replace("_", ""))
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value.isascii():
            try:
                return float(value.strip())
            except ValueError:
                raise _Invalid from None   # "fast" is no number: the setting is refused
    elif kind is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - refused when the class is made
        raise TypeError(f"unsupported setting type {kind!r}")
    raise _Invalid


def _check(info: FieldInfo, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for bound, holds in (("ge", value >= (info.ge or 0)), ("gt", value > (info.gt or 0)),
                             ("le", value <= (info.le or 0)), ("lt", value < (info.lt or 0))):
            if getattr(info, bound) is not None and not holds:
                raise _Invalid
    if isinstance(value, str):
        if info.min_length is not None and len(value) < info.min_length:
            raise _Invalid
        if info.max_length is not None and len(value) > info.max_length:
            raise _Invalid
        if info.pattern is not None and _searcher(info.pattern)(value) is None:
            raise _Invalid


_SEARCHERS: dict[str, Callable[[str], Any]] = {}


def _searcher(pattern: str) -> Callable[[str], Any]:
    if pattern not in _SEARCHERS:
        # pydantic's regex ends a match at "$" only at the very end (Python's also before a
        # final newline): "\Z" is that
        _SEARCHERS[pattern] = re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern)).search
    return _SEARCHERS[pattern]


def _parser(annotation: Any) -> Callable[[Any], Any]:
    """The function that makes a value of ``annotation`` (raises _Invalid)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Union:
        members = [a for a in args if a is not type(None)]
        if len(members) != 1 or len(args) != 2:
            raise TypeError(f"settings support Optional[X], not {annotation!r}")
        inner = _parser(members[0])
        return lambda value: None if value is None else inner(value)
    if origin is Literal:
        choices = args

        def literal(value: Any) -> Any:
            if value in choices and type(value) in {type(c) for c in choices}:
                return value
            raise _Invalid
        return literal
    if annotation in (int, float, bool, str):
        return lambda value: _scalar(annotation, value)
    raise TypeError(f"settings support int, float, bool, str, Literal and Optional: "
                    f"not {annotation!r}")


class SettingsModel:
    """Base of the settings class: its annotated names are its settings."""
    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _parsers: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    _validators: ClassVar[dict[str, list[tuple[str, str]]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        namespace = {**vars(sys.modules[cls.__module__]), "ClassVar": ClassVar}
        fields: dict[str, FieldInfo] = {}
        parsers: dict[str, Callable[[Any], Any]] = {}
        for name, text in cls.__dict__.get("__annotations__", {}).items():
            annotation = eval(text, namespace) if isinstance(text, str) else text
            if get_origin(annotation) is ClassVar or annotation is ClassVar:
                continue
            declared = cls.__dict__.get(name)
            info = declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)
            fields[name] = FieldInfo(**{**vars(info), "annotation": annotation})
            parsers[name] = _parser(annotation)
            if name in cls.__dict__:
                delattr(cls, name)  # the instance's value, not the declaration, answers
        validators: dict[str, list[tuple[str, str]]] = {}
        for attribute, member in cls.__dict__.items():
            marked = getattr(getattr(member, "__func__", member), "_settings_validates", None)
            if marked is None:
                continue
            names, mode = marked
            for name in names:
                if name not in fields:
                    raise TypeError(f"{attribute} validates {name}, which is not a setting")
                validators.setdefault(name, []).append((attribute, mode))
        cls.model_fields, cls._parsers, cls._validators = fields, parsers, validators

    def __init__(self, **values: Any) -> None:
        invalid: list[str] = []
        for name, info in self.model_fields.items():
            if name not in values:
                object.__setattr__(self, name, info.default)
                continue
            try:
                object.__setattr__(self, name, self._parse(name, info, values[name]))
            except (_Invalid, ValueError, AssertionError):
                invalid.append(name)
        if invalid:
            raise InvalidSettings(invalid)

    def _parse(self, name: str, info: FieldInfo, value: Any) -> Any:
        checks = self._validators.get(name, ())
        for attribute, mode in checks:
            if mode == "before":
                value = getattr(self, attribute)(value)
        value = self._parsers[name](value)
        if value is not None:
            _check(info, value)
        for attribute, mode in checks:
            if mode == "after":
                value = getattr(self, attribute)(value)
        return value

    def model_copy(self, *, update: Optional[dict[str, Any]] = None) -> Any:
        """These settings with some changed (checked as at start-up), as pydantic's."""
        values = {name: getattr(self, name) for name in self.model_fields}
        copy = object.__new__(type(self))
        for name, value in values.items():
            object.__setattr__(copy, name, value)
        invalid = []
        for name, value in (update or {}).items():
            if name not in self.model_fields:
                raise AttributeError(f"no setting {name}")
            try:
                object.__setattr__(copy, name, self._parse(name, self.model_fields[name], value))
            except (_Invalid, ValueError, AssertionError):
                invalid.append(name)
        if invalid:
            raise InvalidSettings(invalid)
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the settings are frozen: {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"the settings are frozen: {name} cannot be deleted")

    def __repr__(self) -> str:  # never the secrets
        return f"{type(self).__name__}(SHOP_ENV={getattr(self, 'SHOP_ENV', None)!r})"

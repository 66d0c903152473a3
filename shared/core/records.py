"""``@record``: the part of ``@dataclass`` the hot modules use, made without compiling code.

``dataclasses.dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__`` (and
more) for each class and compiles it when the module is imported: the dozen value classes a
cold place_order imports cost about a quarter of what our own modules add to a cold start
(measured: ~10 ms of ~40, issue 14). A record gets the same behaviour from a few shared
functions: keyword or positional construction in declaration order, defaults and
``field(default_factory=...)``, ``frozen=True`` (assignment raises
``dataclasses.FrozenInstanceError``, and the record hashes by its fields), equality by
class and fields, a repr of its fields. Type checkers see a dataclass (PEP 681).
"""
from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, Callable, Optional, TypeVar, overload

from typing_extensions import dataclass_transform

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Field:
    __slots__ = ("default", "default_factory", "repr")

    def __init__(self, default: Any, default_factory: Any, repr: bool) -> None:
        self.default, self.default_factory, self.repr = default, default_factory, repr


def field(*, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True) -> Any:
    """A field's default (or the factory of a fresh one per record), and whether its repr
    shows it."""
    return _Field(default, default_factory, repr)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    specs = type(self).__record_fields__
    if len(args) > len(specs):
        raise TypeError(f"{type(self).__name__}() takes {len(specs)} arguments, "
                        f"{len(args)} given")
    for spec, value in zip(specs, args):
        name = spec[0]
        if name in kwargs:
            raise TypeError(f"{type(self).__name__}() got two values for {name!r}")
        kwargs[name] = value
    for name, default, factory, _ in specs:
        if name in kwargs:
            value = kwargs.pop(name)
        elif factory is not MISSING:
            value = factory()
        elif default is not MISSING:
            value = default
        else:
            raise TypeError(f"{type(self).__name__}() missing the argument {name!r}")
        object.__setattr__(self, name, value)
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got unexpected arguments {sorted(kwargs)}")
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, spec[0]) for spec in type(self).__record_fields__)


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}"
                      for name, _, _, show in type(self).__record_fields__ if show)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _make(cls: type[T], frozen: bool) -> type[T]:
    specs: list[tuple[str, Any, Any, bool]] = []
    for base in reversed(cls.__mro__[1:]):
        specs.extend(getattr(base, "__record_fields__", ()))
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        declared = cls.__dict__.get(name, MISSING)
        if isinstance(declared, _Field):
            spec = (name, declared.default, declared.default_factory, declared.repr)
            if declared.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, declared.default)
        else:
            spec = (name, declared, MISSING, True)
        specs = [s for s in specs if s[0] != name] + [spec]
    methods: dict[str, Any] = {"__record_fields__": tuple(specs), "__init__": _init,
                               "__repr__": _repr, "__eq__": _eq, "__hash__": None}
    if frozen:
        methods.update(__setattr__=_frozen_setattr, __delattr__=_frozen_delattr,
                       __hash__=_hash)
    for name, method in methods.items():
        setattr(cls, name, method)
    return cls


@overload
def record(cls: type[T]) -> type[T]: ...


@overload
def record(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: Optional[type[T]] = None, *, frozen: bool = False) -> Any:
    """Make ``cls`` a record, as ``@dataclass`` / ``@dataclass(frozen=True)`` would."""
    if cls is None:
        return lambda c: _make(c, frozen)
    return _make(cls, frozen)

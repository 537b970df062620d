"""`record`: a dataclass whose equality, hash, repr and ordering are shared functions.

Python 3.11's `dataclasses` compiles every method it generates from source text, each with its own
`exec` (`dataclasses._create_fn`, ~0.1 ms a method): a `@dataclass(frozen=True)` class costs six
compiles (`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`), ~1 ms with
eight fields, and the ~70 classes a `validate` of plain manifests imports spent ~45 ms of its CPU
time there (docs/performance.md, "validate, thirteenth round"). `record` takes the same arguments as
`dataclass` and lets `dataclasses` generate only `__init__` (and a frozen class's two guards); the
others are built here from the class's fields, without compiling anything, and answer exactly what
the generated ones answer: `__eq__` compares the `compare` fields as a tuple when both sides are of
the same class (else NotImplemented), `__hash__` hashes the tuple of the `hash` fields (frozen classes;
a mutable one is unhashable), `__repr__` is `Name(field=value, ...)` over the `repr` fields ("..."
when it recurses), `order=True` compares the tuples (`tests/test_records.py` holds each to the
generated one). `dataclasses.fields`, `replace`, `asdict` and pickling see a dataclass.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of `names`' values of an object (attrgetter returns a bare value for one name)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


def _shared_methods(cls: type, frozen: bool, order: bool) -> dict[str, Any]:
    fields = dataclasses.fields(cls)
    compared = _values(tuple(f.name for f in fields if f.compare))
    hashed = _values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in fields if f.repr)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        return self.__class__.__qualname__ + "(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in shown) + ")"

    methods: dict[str, Any] = {"__eq__": __eq__, "__repr__": __repr__}
    methods["__hash__"] = (lambda self: hash(hashed(self))) if frozen else None
    if order:
        methods |= {
            "__lt__": lambda self, other: compared(self) < compared(other) if other.__class__ is self.__class__ else NotImplemented,
            "__le__": lambda self, other: compared(self) <= compared(other) if other.__class__ is self.__class__ else NotImplemented,
            "__gt__": lambda self, other: compared(self) > compared(other) if other.__class__ is self.__class__ else NotImplemented,
            "__ge__": lambda self, other: compared(self) >= compared(other) if other.__class__ is self.__class__ else NotImplemented,
        }
    for name, fn in methods.items():
        if fn is not None:
            fn.__name__ = name
            fn.__qualname__ = f"{cls.__qualname__}.{name}"
    return methods


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, frozen: bool = False, kw_only: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...
@dataclass_transform()
def record(cls: type[T] | None = None, /, *, frozen: bool = False, kw_only: bool = False, order: bool = False) -> Any:
    """`@dataclass`, `@dataclass(frozen=True)`, ... with the methods above instead of generated ones.
    A class that writes its own `__eq__`, `__hash__`, `__repr__` or ordering is refused: use
    `@dataclass` for it."""

    def wrap(cls: type[T]) -> type[T]:
        own = {"__eq__", "__hash__", "__repr__", "__lt__", "__le__", "__gt__", "__ge__"} & cls.__dict__.keys()
        if own:
            raise TypeError(f"{cls.__qualname__} defines {', '.join(sorted(own))}: use @dataclass")
        made = dataclasses.dataclass(cls, frozen=frozen, kw_only=kw_only, eq=False, repr=False)
        for name, fn in _shared_methods(made, frozen, order).items():
            setattr(made, name, fn)
        return made

    return wrap if cls is None else wrap(cls)

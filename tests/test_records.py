"""`llmkube.records.record` answers what `dataclasses.dataclass` generates, for the same class."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from llmkube.records import record


def _pair(body: dict[str, Any], **params: Any) -> tuple[type, type]:
    """The same class made by `dataclass` and by `record`."""
    made = []
    for decorate in (dataclass, record):
        ns = dict(body)
        ns["__annotations__"] = dict(body["__annotations__"])
        ns["__qualname__"] = ns["__name__"] = "Point"
        made.append(decorate(**params)(type("Point", (), ns)))  # type: ignore[call-overload]
    return made[0], made[1]


BODIES = [
    {"__annotations__": {}},
    {"__annotations__": {"x": "int"}},
    {"__annotations__": {"x": "int", "y": "Any", "z": "str"}, "z": "z"},
    {"__annotations__": {"x": "int", "note": "str", "cache": "Any", "seen": "Any"},
     "note": field(default="", compare=False), "cache": field(default=None, repr=False, compare=False),
     "seen": field(default=0, hash=False)},
    {"__annotations__": {"x": "int", "y": "int"}, "y": field(default=1, hash=True, compare=False)},
]
VALUES = [(), (1,), (1, [2], "a"), (1, "n", {"k": 1}, 3), (1, 2)]


@pytest.mark.parametrize("params", [{}, {"frozen": True}, {"frozen": True, "order": True}, {"kw_only": True}])
@pytest.mark.parametrize("case", range(len(BODIES)))
def test_record_answers_as_the_generated_methods(case: int, params: dict[str, Any]) -> None:
    std, rec = _pair(BODIES[case], **params)
    names = [f.name for f in dataclasses.fields(std)]
    assert names == [f.name for f in dataclasses.fields(rec)]
    values = VALUES[case]
    others = [values, tuple(v if i else (v + 1 if isinstance(v, int) else v) for i, v in enumerate(values))]
    if len(values) > 1:
        others.append(tuple(v if i != 1 else "other" for i, v in enumerate(values)))
    make = (lambda cls, vs: cls(**dict(zip(names, vs)))) if params.get("kw_only") else (lambda cls, vs: cls(*vs))
    for a in others:
        for b in others:
            sa, sb, ra, rb = make(std, a), make(std, b), make(rec, a), make(rec, b)
            assert repr(ra) == repr(sa)
            assert (ra == rb) == (sa == sb) and (ra != rb) == (sa != sb)
            assert ra.__eq__(sa) is NotImplemented and (ra == a) == (sa == a)
            if params.get("frozen"):
                hashable = all(not isinstance(v, (list, dict)) for v in a)
                if hashable:
                    assert hash(ra) == hash(sa)
                with pytest.raises(dataclasses.FrozenInstanceError):
                    ra.x = 0
            else:
                assert type(ra).__hash__ is None and type(sa).__hash__ is None
            if params.get("order") and all(isinstance(v, int) for v in a + b):
                for op in ("__lt__", "__le__", "__gt__", "__ge__"):
                    assert getattr(ra, op)(rb) == getattr(sa, op)(sb)
                assert ra.__lt__(sa) is NotImplemented


@record(frozen=True, kw_only=True)
class Limits:
    """Two limits."""

    size: int
    names: tuple[str, ...] = ()


def test_record_is_a_dataclass_for_the_standard_library() -> None:
    one = Limits(size=1, names=("a",))
    assert dataclasses.is_dataclass(one) and dataclasses.asdict(one) == {"size": 1, "names": ("a",)}
    assert dataclasses.replace(one, size=2) == Limits(size=2, names=("a",))
    assert pickle.loads(pickle.dumps(one, protocol=5)) == one
    assert Limits.__doc__ == "Two limits."
    assert type(one).__repr__.__qualname__.endswith("Limits.__repr__")
    with pytest.raises(TypeError):
        Limits(1)  # type: ignore[misc]


def test_a_recursive_repr_stops_as_the_generated_one() -> None:
    std, rec = _pair({"__annotations__": {"items": "Any"}})
    s, r = std([]), rec([])
    s.items.append(s)
    r.items.append(r)
    assert repr(r) == repr(s) == "Point(items=[...])"


def test_a_class_with_its_own_equality_is_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):
        @record
        class Own:
            x: int

            def __eq__(self, other: object) -> bool:
                return True

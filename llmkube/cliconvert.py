"""typer's conversion of option values, for the types llmkube's options use, without pydantic.

typer (0.2x) converts every parameter value through a pydantic `TypeAdapter` it builds for the
parameter when the value is first converted (`typer._coercion.build_runtime_param`); the first one
imports pydantic (~50–60 ms on this machine, more than typer itself), so a run of plain manifests
paid for pydantic though nothing else in it needs it. llmkube's options are of eight shapes (str,
bool, int and float with a lower bound, Path, an Enum, lists of str or Path: `tests/test_startup.py`
keeps it so). `plain(param)` gives such a parameter a converter that does what typer's adapter does
for a value whose conversion is plain (a str, an int or float spelled in ASCII digits, an enum choice,
a path), and hands any other value to typer's own adapter, so every conversion error and every odd
spelling is typer's (held equal over the values of every option: `tests/test_startup.py`).

typer has no public hook for this: the converter is a typer `RuntimeParam` (typer/_coercion.py,
0.29), which a parameter hands out from `get_runtime_param`; with another typer that has neither,
`plain` leaves the parameter alone.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from llmkube.lazyre import lazy
from llmkube.records import record

try:  # typer's runtime-conversion layer (0.2x); without it typer converts as it always did
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
except ImportError:  # pragma: no cover - another typer
    RuntimeParam = None  # type: ignore[assignment,misc]

_INT = lazy(r"-?[0-9]+")
_FLOAT = lazy(r"-?[0-9]+(?:\.[0-9]+)?")
_LEAVES: tuple[Any, ...] = (str, bool, int, float, Path)


class _Unsure(Exception):
    """The value is not a plain one: typer's adapter converts it (and words its errors)."""


def _bounded(value: int | float, info: Any) -> int | float:
    if info.clamp or (info.min is not None and value < info.min) or (info.max is not None and value > info.max):
        raise _Unsure
    return value


def _leaf(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """What typer's adapter returns for a plain value of this annotation; `_Unsure` otherwise."""
    if annotation is str:
        if type(value) is str:
            return value
    elif annotation is bool:
        if type(value) is bool:
            return value
    elif annotation is int:
        if type(value) is int:
            return _bounded(value, info)
        if type(value) is str and _INT().fullmatch(value):
            return _bounded(int(value), info)
    elif annotation is float:
        if type(value) is float:
            return _bounded(value, info)
        if type(value) is str and _FLOAT().fullmatch(value):
            return _bounded(float(value), info)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            raise _Unsure from None
    elif annotation is Path and info.path_type is None:
        if isinstance(value, Path) or (type(value) is str and value):
            return coerce_cli_path(value if isinstance(value, Path) else Path(value), info, path_type=Path, param=param, ctx=ctx)
    raise _Unsure


if RuntimeParam is not None:

    @record(frozen=True)
    class PlainParam(RuntimeParam):
        """typer's conversion of one parameter: plain values here, the rest by typer's adapter."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            info = self.parameter_info
            try:
                if get_origin(self.annotation) is list:
                    (item,) = get_args(self.annotation)
                    items = value if isinstance(value, (list, tuple)) else [value]
                    return [_leaf(item, info, v, param, ctx) for v in items]
                return _leaf(self.annotation, info, value, param, ctx)
            except _Unsure:
                return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def convertible(annotation: Any, info: Any) -> bool:
    """Whether `PlainParam` knows the shape: a leaf type or a list of one, with no custom parser."""
    if info.parser is not None:
        return False
    if get_origin(annotation) is list:
        args = get_args(annotation)
        return len(args) == 1 and convertible(args[0], info)
    return annotation in _LEAVES or (isinstance(annotation, type) and issubclass(annotation, Enum))


_PLAIN_CLASSES: dict[type, type] = {}


def _plain_class(cls: type) -> type:
    """`cls` (typer's option or argument class, or llmkube's own subclass) converting with `PlainParam`."""
    if cls in _PLAIN_CLASSES:
        return _PLAIN_CLASSES[cls]

    def get_runtime_param(self: Any) -> Any:
        converter = self.__dict__.get("plain_conversion")
        if converter is None:
            d = self.type_descriptor
            converter = self.plain_conversion = PlainParam(d.parameter_info, d.annotation, d)
        return converter

    members = {"get_runtime_param": get_runtime_param, "converts_plainly": True, "__doc__": cls.__doc__}
    plain_cls = _PLAIN_CLASSES[cls] = type(f"Plain{cls.__name__}", (cls,), members)
    return plain_cls


def plain(param: Any) -> bool:
    """Make a typer parameter convert with `PlainParam` when its shape allows; whether it does.

    typer asks a parameter for its converter (`get_runtime_param`, typer/core.py, 0.29), so the
    parameter becomes an instance of a subclass that answers with the plain one (as `cli.py` gives
    arguments a readable class)."""
    descriptor = getattr(param, "type_descriptor", None)
    if RuntimeParam is None or descriptor is None or not hasattr(param, "get_runtime_param"):
        return False
    if descriptor.file_annotation is not None or not convertible(descriptor.annotation, descriptor.parameter_info):
        return False
    if not getattr(param, "converts_plainly", False):
        param.__class__ = _plain_class(type(param))
    return True


def plain_everywhere(command: Any) -> None:
    """`plain` for every parameter of a click command tree, its help options included (click makes
    one when a command is first parsed, from the context's help option names)."""
    for param in getattr(command, "params", []):
        plain(param)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None:

        def help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            if option is not None:
                plain(option)
            return option

        command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        plain_everywhere(sub)

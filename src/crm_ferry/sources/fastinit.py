"""Building frozen slotted records without going through their generated ``__init__``.

A frozen dataclass sets each field through ``object.__setattr__`` after parsing keyword
arguments; for a 30-field record that is a large part of the cost of reading a row. The
maker built here does the same thing more directly: a new instance, then every slot set
through its member descriptor, with the field's default when the value is absent; like
``dataclasses`` itself, it generates that function's source once per class (about half
the cost of the regular constructor). It is only valid
for dataclasses without ``__post_init__`` (checked), which is true of every record in
:mod:`crm_ferry.model`; a test compares its results with the regular constructor.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = dataclasses.MISSING


@functools.lru_cache(maxsize=512)
def compiled(source: str) -> CodeType:
    """``source`` compiled (once per distinct text): generated functions are rebuilt for
    every file read, and compiling them costs more than running ``exec`` on the code."""
    code: CodeType = compile(source, "<generated>", "exec")
    return code


_MAKERS: dict[type, Callable[[Mapping[str, Any]], Any]] = {}
_POSITIONAL: dict[type, Callable[..., Any]] = {}


def record_maker(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """A function building ``cls`` from a mapping of field values (absent -> default).

    Raises :class:`KeyError` naming the field when a field without default is absent.
    Built once per class.
    """
    maker = _MAKERS.get(cls)
    if maker is None:
        maker = _MAKERS[cls] = _record_maker(cls)
    return maker


def _record_maker(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: not a plain dataclass")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_M": _MISSING}
    lines = ["def make(values):", "    o = _new(_cls)", "    g = values.get"]
    for n, f in enumerate(dataclasses.fields(cls)):
        descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        namespace[f"s{n}"] = descriptor.__set__
        if f.default is not _MISSING:
            namespace[f"d{n}"] = f.default
            lines.append(f"    s{n}(o, g({f.name!r}, d{n}))")
        elif f.default_factory is not _MISSING:
            namespace[f"f{n}"] = f.default_factory
            lines.append(f"    v = g({f.name!r}, _M)")
            lines.append(f"    s{n}(o, f{n}() if v is _M else v)")
        else:
            lines.append(f"    s{n}(o, values[{f.name!r}])")
    lines.append("    return o")
    exec(compiled("\n".join(lines)), namespace)
    make: Callable[[Mapping[str, Any]], T] = namespace["make"]
    return make


def positional_maker(cls: type[T]) -> Callable[..., T]:
    """A function building ``cls`` from every field value, positionally in field order.

    For small records built once per row (:class:`~crm_ferry.model.Provenance`): no
    keyword parsing and no ``object.__setattr__``, just the slots set directly. Built
    once per class.
    """
    maker = _POSITIONAL.get(cls)
    if maker is None:
        maker = _POSITIONAL[cls] = _positional_maker(cls)
    return maker


def _positional_maker(cls: type[T]) -> Callable[..., T]:
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: not a plain dataclass")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    names = [f"a{n}" for n in range(len(dataclasses.fields(cls)))]
    lines = [f"def make({', '.join(names)}):", "    o = _new(_cls)"]
    for n, f in enumerate(dataclasses.fields(cls)):
        descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        namespace[f"s{n}"] = descriptor.__set__
        lines.append(f"    s{n}(o, a{n})")
    lines.append("    return o")
    exec(compiled("\n".join(lines)), namespace)
    make: Callable[..., T] = namespace["make"]
    return make

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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def record_maker(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """A function building ``cls`` from a mapping of field values (absent -> default).

    Raises :class:`KeyError` naming the field when a field without default is absent.
    """
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
    exec("\n".join(lines), namespace)
    make: Callable[[Mapping[str, Any]], T] = namespace["make"]
    return make

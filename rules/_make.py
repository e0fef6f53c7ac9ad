"""Building the frozen dataclasses that rules/ makes by the hundred thousand, cheaply.

A frozen dataclass's own __init__ sets each field through ``object.__setattr__``
(its class's __setattr__ refuses), about 100 ns a field: an Event or a Clock costs
over a microsecond, more than judging it. ``maker(cls)`` returns a function that
builds the same instance for a quarter of that: it stores the fields, in field
order, into an instance of a twin class with the same ``__slots__`` and no
__setattr__ of its own, then gives the instance ``cls`` as its class, which Python
allows between classes of identical layout. The result is what ``cls(...)`` builds:
the same type, the same slots, frozen from then on.

Only for frozen dataclasses with slots, no base class, no ``__post_init__``; every
field is passed, positionally (no defaults are filled in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """A function f(*fields) returning the instance cls(*fields) would, built faster."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    if not (
        cls.__dataclass_params__.frozen
        and getattr(cls, "__slots__", None) == names
        and cls.__bases__ == (object,)
        and not hasattr(cls, "__post_init__")
    ):
        raise TypeError(f"maker: {cls.__name__} is not a frozen slots dataclass without base or __post_init__")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": names, "__module__": cls.__module__})
    args = ", ".join(names)
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    source = f"def make_{cls.__name__}({args}):\n    self = twin()\n{stores}    self.__class__ = cls\n    return self\n"
    scope: dict = {"twin": twin, "cls": cls}
    exec(source, scope)
    make = scope[f"make_{cls.__name__}"]
    make.__doc__ = f"{cls.__name__}(*fields), built without the frozen __setattr__ (rules._make)."
    return make

"""A checked rule set: every name bound, every expression typed, statements in order.

The checker's result, read by planning and by every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from segmint.language import ast
from segmint.language.catalog import Catalog, Column
from segmint.language.types import Type
from segmint.plugin.api import Function


@attrs.frozen
class Binding:
    """What a name refers to."""

    kind: str  # segment | segmentation | column | builtin | event (a column of an event source)
    name: str
    type: Type
    column: Column | None = None


@attrs.frozen
class CheckedRules:
    """A rule set that resolved and type-checked, ready for planning and compiling."""

    rules: ast.RuleSet
    catalog: Catalog
    functions: Mapping[str, Function]
    types: dict[int, Type]  # by id() of the node
    bindings: dict[int, Binding]
    order: tuple[str, ...]  # statement names, each after what it refers to
    depends: dict[str, frozenset[str]]
    #: Every distinct aggregate over events, in the order they first appear.
    aggregates: tuple[ast.Aggregate, ...] = ()

    def type_of(self, node: Any) -> Type:
        return self.types[id(node)]

    def binding(self, node: ast.Name) -> Binding:
        return self.bindings[id(node)]

    @property
    def columns_used(self) -> list[Column]:
        seen: dict[str, Column] = {}
        for binding in self.bindings.values():
            if binding.column is not None and binding.kind == "column":
                seen.setdefault(binding.column.physical, binding.column)
        return list(seen.values())

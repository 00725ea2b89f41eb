"""Keep pyarrow from importing pandas only to ask whether objects are pandas objects.

pyarrow imports pandas (0.3-0.5 s, more than all of segmint) on its first ``pa.array``,
``to_numpy`` or ``import pyarrow.dataset``, just to check whether values are pandas
objects. A command whose data never meets pandas calls `defer` first: pyarrow's check is
answered "no pandas" once (no pandas object can exist before pandas is imported), and as
soon as anything imports pandas for real (a plugin, ``to_pandas``), pyarrow is told it is
there, so from then on it converts pandas objects exactly as it always does.

What stays different until then: pyarrow turns nanosecond timestamps into
``datetime.datetime`` rather than ``pandas.Timestamp`` in ``as_py``; so only commands that
show no values (`segmint profile --out`) defer.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any


def defer() -> bool:
    """Answer pyarrow's pandas check with "not imported" until pandas is imported; False
    (nothing done) when pandas is already imported or this pyarrow has no such check."""
    import pyarrow.lib

    shim = getattr(pyarrow.lib, "_pandas_api", None)
    if "pandas" in sys.modules or shim is None or not hasattr(type(shim), "have_pandas"):
        return False
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        shim.have_pandas  # pyarrow tries pandas once, fails, and remembers
        import pyarrow.dataset  # noqa: F401  (its module set-up tries pandas too)
    finally:
        sys.meta_path.remove(blocker)
    sys.meta_path.insert(0, _Announcer(shim))
    return True


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas":
            raise ImportError("pandas deferred", name=name)
        return None


class _Announcer(importlib.abc.MetaPathFinder):
    """Lets pandas import as usual, then has pyarrow take it up (its full check imports
    pandas again, now found in sys.modules)."""

    def __init__(self, shim: Any) -> None:
        self.shim = shim

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _AnnouncingLoader(spec.loader, self.shim)
        return spec


class _AnnouncingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, shim: Any) -> None:
        self.loader = loader
        self.shim = shim

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        self.shim.pd  # pyarrow's full check: it finds pandas and uses it from now on

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package...
        return getattr(self.loader, name)

"""The plugin host: finds plugins through the ``segmint`` entry-point group and collects
what they register into a `PluginRegistry`.

Built-in plugins are found exactly as third-party ones are, so segmint must be installed
(editable will do) for even its own sources to load. A plugin that fails to import, to
register or to return valid objects is recorded as a `PluginFailure` and left out; the
others keep working. Two plugins providing one name is a `PluginError`, since either
choice would silently change what a project means.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pluggy

from segmint.engines.base import Engine
from segmint.plugin import hookspecs
from segmint.errors import ConfigError, PluginError, SegmintError
from segmint.plugin.api import Function, Metric, Sink, Source

GROUP = "segmint"
#: segmint's own distribution, whose plugins load first so they win on file extensions.
OWN_DISTRIBUTION = "segmint"
ENV_VAR = "SEGMINT_PLUGINS"
#: The kinds of object a plugin registers, each with its ``register_*`` hook.
KINDS = ("source", "metric", "sink", "function", "engine")


@attrs.frozen
class PluginInfo:
    """One loaded plugin and the names it provides, for messages and ``segmint plugins``."""

    distribution: str
    version: str
    entry_point: str
    sources: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    sinks: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``"segmint 0.1.0"``: the distribution and its version."""
        return f"{self.distribution} {self.version}" if self.version else self.distribution

    def provides(self, kind: str) -> tuple[str, ...]:
        return getattr(self, _plural(kind))


@attrs.frozen
class PluginFailure:
    """A plugin that could not be used, and why (shown by ``segmint plugins``)."""

    distribution: str
    version: str
    entry_point: str
    error_text: str

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}" if self.version else self.distribution

    def format(self) -> str:
        where = f" (entry point '{self.entry_point}')" if self.entry_point else ""
        return f"plugin {self.label}{where} failed to load: {self.error_text}"


@attrs.frozen
class PluginRegistry:
    """Everything the loaded plugins provide, by name."""

    sources: dict[str, type[Source]] = attrs.field(factory=dict)
    sinks: dict[str, type[Sink]] = attrs.field(factory=dict)
    metrics: dict[str, Metric] = attrs.field(factory=dict)
    functions: dict[str, Function] = attrs.field(factory=dict)
    engines: dict[str, type[Engine]] = attrs.field(factory=dict)
    plugins: list[PluginInfo] = attrs.field(factory=list)
    failures: list[PluginFailure] = attrs.field(factory=list)
    #: The pluggy manager holding the plugins that loaded, for hooks beyond ``register_*``.
    plugin_manager: pluggy.PluginManager | None = attrs.field(
        default=None, eq=False, repr=False
    )

    def plugin_for(self, kind: str, name: str) -> PluginInfo:
        """The plugin that provides the `kind` ("source", "metric"…) called `name`."""
        for info in self.plugins:
            if name in info.provides(kind):
                return info
        raise KeyError(f"no plugin provides a {_singular(kind)} named '{name}'")


@contextlib.contextmanager
def calling_plugin(what: str | Callable[[], str]) -> Iterator[None]:
    """Run a plugin's code: a `SegmintError` it raises passes through as it is (its words are
    meant for the user); any other failure becomes a `PluginError` reading ``WHAT: Type:
    message``. `what` says who failed doing what; a callable is asked only on failure."""
    try:
        yield
    except SegmintError:
        raise
    except Exception as error:
        label = what() if callable(what) else what
        raise PluginError(f"{label}: {type(error).__name__}: {error}") from error


def provenance(registry: PluginRegistry, kind: str, name: str) -> str:
    """Which plugin provides a name, as ``"segmint 0.1.0"``, for error messages."""
    return registry.plugin_for(kind, name).label


def source_for_path(registry: PluginRegistry, path: str | os.PathLike[str]) -> type[Source]:
    """The source class that reads a file of this kind, chosen by its name's ending."""
    return _class_for_path(registry.sources, path, "source")


def sink_for_path(registry: PluginRegistry, path: str | os.PathLike[str]) -> type[Sink]:
    """The sink class that writes a file of this kind, chosen by its name's ending."""
    return _class_for_path(registry.sinks, path, "sink")


def _class_for_path(classes: Mapping[str, type], path: str | os.PathLike[str], kind: str) -> Any:
    target = Path(path)
    names = _names_in(target) if target.is_dir() else [target.name]
    best: tuple[int, type] | None = None
    for cls in classes.values():
        for ext in cls.extensions:
            if any(n.lower().endswith(ext.lower()) for n in names):
                if best is None or len(ext) > best[0]:
                    best = (len(ext), cls)
    if best is None:
        supported = sorted({ext for cls in classes.values() for ext in cls.extensions})
        listed = ", ".join(supported) or "none"
        raise ConfigError(
            f"no {kind} plugin reads files like '{target.name or path}'"
            f" (supported extensions: {listed})"
        )
    return best[1]


def _names_in(directory: Path) -> list[str]:
    """File names in a directory dataset, skipping hidden and ``_metadata``-style files."""
    return sorted(
        p.name for p in directory.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
    )


@functools.cache
def get_registry() -> PluginRegistry:
    """The registry of installed plugins, loaded once on first use."""
    return load_registry()


def reset_registry() -> None:
    """Forget the cached registry so the next `get_registry` loads plugins again (tests)."""
    get_registry.cache_clear()


def load_registry(
    *, extra_plugins: Iterable[object] = (), environ: Mapping[str, str] | None = None
) -> PluginRegistry:
    """Load the plugins allowed by ``SEGMINT_PLUGINS`` plus `extra_plugins` into a registry."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    builder = _Builder(pm)
    for ep, dist, version in _selected_entry_points(os.environ if environ is None else environ):
        builder.add(dist, version, ep.name, ep.load)
    for plugin in extra_plugins:
        builder.add(_plugin_label(plugin), "", "", lambda plugin=plugin: plugin)
    return builder.registry


def _selected_entry_points(
    environ: Mapping[str, str],
) -> list[tuple[metadata.EntryPoint, str, str]]:
    """Entry points of the group with their distribution and version, built-ins first,
    limited to the distributions ``SEGMINT_PLUGINS`` names when it is set."""
    wanted = environ.get(ENV_VAR)
    allowed = None if wanted is None else {_normalize(n) for n in wanted.split(",") if n.strip()}
    selected: dict[tuple[str, str], tuple[metadata.EntryPoint, str, str]] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        name, version = (dist.name, dist.version) if dist is not None else ("unknown", "")
        key = (_normalize(name), ep.name)
        if (allowed is None or key[0] in allowed) and key not in selected:
            selected[key] = (ep, name, version)
    order = sorted(selected, key=lambda key: (key[0] != OWN_DISTRIBUTION, key))
    return [selected[key] for key in order]


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _plugin_label(plugin: object) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__


class _Builder:
    """Loads plugins one at a time into a registry, keeping each failure to its plugin."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.registry = PluginRegistry(plugin_manager=pm)

    def add(self, dist: str, version: str, entry_point: str, load: Callable[[], object]) -> None:
        label = f"{dist}:{entry_point}" if entry_point else dist
        plugin = None
        try:
            plugin = load()
            self.pm.register(plugin, name=self._unique_name(label))
            provided = _collect(self.pm, plugin)
        except Exception as exc:  # a broken plugin must not take the host down
            if plugin is not None and self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            failure = PluginFailure(dist, version, entry_point, _error_text(exc))
            self.registry.failures.append(failure)
            return
        info = PluginInfo(
            dist, version, entry_point, **{_plural(k): tuple(provided[k]) for k in KINDS}
        )
        self._merge(info, provided)

    def _unique_name(self, label: str) -> str:
        name, n = label, 1
        while self.pm.has_plugin(name):
            n += 1
            name = f"{label}#{n}"
        return name

    def _merge(self, info: PluginInfo, provided: dict[str, dict[str, Any]]) -> None:
        for kind in KINDS:
            table = getattr(self.registry, _plural(kind))
            for name in provided[kind]:
                if name in table:
                    other = self.registry.plugin_for(kind, name)
                    raise PluginError(
                        f"{kind} '{name}' is registered by two plugins: "
                        f"{other.label} and {info.label}; uninstall one of them"
                    )
        for kind in KINDS:
            getattr(self.registry, _plural(kind)).update(provided[kind])
        self.registry.plugins.append(info)


def _collect(pm: pluggy.PluginManager, plugin: object) -> dict[str, dict[str, Any]]:
    """Call one plugin's ``register_*`` hooks and validate what they return, by kind."""
    for caller in pm.get_hookcallers(plugin) or ():
        if not caller.has_spec() and not _all_optional(caller, plugin):
            raise PluginError(f"unknown hook '{caller.name}'")
    provided: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        hook = f"register_{_plural(kind)}"
        provided[kind] = {}
        for obj in _call_own_impls(pm, hook, plugin):
            name = _VALIDATORS[kind](obj)
            if name in provided[kind]:
                raise PluginError(f"{hook}() returned two {_plural(kind)} named '{name}'")
            provided[kind][name] = obj
    return provided


def _all_optional(caller: pluggy.HookCaller, plugin: object) -> bool:
    return all(i.opts.get("optionalhook") for i in caller.get_hookimpls() if i.plugin is plugin)


def _call_own_impls(pm: pluggy.PluginManager, hook: str, plugin: object) -> list[object]:
    """What `plugin`'s implementations of `hook` return (``None`` counts as nothing)."""
    results: list[object] = []
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin is not plugin or impl.hookwrapper or impl.opts.get("wrapper"):
            continue
        returned = impl.function()
        if returned is None:
            continue
        if not isinstance(returned, (list, tuple)):
            raise PluginError(f"{hook}() must return a list, got {type(returned).__name__}")
        results.extend(returned)
    return results


def _check_class(obj: object, base: type, kind: str) -> str:
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginError(f"{kind} {obj!r} is not a subclass of segmint.{base.__name__}")
    name = _check_name(obj.name, kind, obj.__qualname__)
    if not attrs.has(obj.Options):
        raise PluginError(f"{kind} '{name}': Options must be an attrs class")
    exts = obj.extensions
    if not isinstance(exts, tuple) or not all(isinstance(e, str) and e[:1] == "." for e in exts):
        raise PluginError(f"{kind} '{name}': extensions must be a tuple like ('.csv',)")
    return name


def _check_engine(obj: object) -> str:
    if not (isinstance(obj, type) and issubclass(obj, Engine)):
        raise PluginError(f"engine {obj!r} is not a subclass of segmint.engines.base.Engine")
    name = _check_name(obj.name, "engine", obj.__qualname__)
    if not name.isidentifier():
        raise PluginError(f"engine name '{name}' must be an identifier")
    return name


def _check_source(obj: object) -> str:
    name = _check_class(obj, Source, "source")
    if not (isinstance(obj.role, str) and obj.role):  # type: ignore[attr-defined]
        raise PluginError(f"source '{name}': role must be a non-empty string")
    return name


def _check_value(obj: object, cls: type, kind: str) -> str:
    if not isinstance(obj, cls):
        raise PluginError(f"{kind} {obj!r} is not a segmint.{cls.__name__}")
    name = _check_name(obj.name, kind, repr(obj))  # type: ignore[attr-defined]
    if not name.isidentifier():
        raise PluginError(f"{kind} name '{name}' must be an identifier")
    return name


def _check_name(name: object, kind: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise PluginError(f"{kind} {what} has no name (set its 'name' to a non-empty string)")
    return name


_VALIDATORS: dict[str, Callable[[object], str]] = {
    "source": _check_source,
    "sink": lambda obj: _check_class(obj, Sink, "sink"),
    "metric": lambda obj: _check_value(obj, Metric, "metric"),
    "function": lambda obj: _check_value(obj, Function, "function"),
    "engine": _check_engine,
}


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, PluginError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _plural(kind: str) -> str:
    return kind if kind.endswith("s") else kind + "s"


def _singular(kind: str) -> str:
    return kind[:-1] if kind.endswith("s") else kind

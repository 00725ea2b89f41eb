"""The project: rule files, key, run instant, sources and sinks, from ``segmint.toml`` and
CLI flags.

`load_project` checks the file's shape and types and names the file and key of every
mistake; plugin options are checked when `instantiate_sources` / `instantiate_sinks` build
the plugins, before any data is read.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from segmint.project import globbing
from segmint.semantics.asof import parse_as_of
from segmint.errors import ConfigError
from segmint.plugin.host import (
    PluginRegistry, calling_plugin, get_registry, provenance, sink_for_path, source_for_path,
)
from segmint.project.identity import build_policy, split_options
from segmint.project.source_columns import NO_COLUMNS, SourceColumns
from segmint.plugin.engines import AUTO
from segmint.plugin.options import build_options
from segmint.semantics.names import did_you_mean
from segmint.plugin.api import EVENTS, PROFILES, PluginContext, Sink, Source, SourceSettings

PROJECT_FILE = "segmint.toml"
#: The deepest a project file may nest arrays and tables (Python's TOML reader recurses).
MAX_NESTING = 100
ROLES = (PROFILES, EVENTS)
#: What a sink's ``hash_identifiers`` may be, and the identifier kinds a project declares.
HASHINGS = ("sha256",)
IDENTIFIER_KINDS = ("email", "phone")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@attrs.frozen
class SourceConfig:
    """One ``[sources.NAME]`` table (or ``--source``/``--events`` flag)."""

    name: str
    plugin: str
    role: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Where it was declared, for messages: ``segmint.toml [sources.crm]``, ``--source crm``.
    origin: str = attrs.field(default="", eq=False)
    #: The timestamp column of an event source, when the project names one.
    timestamp_column: str | None = None
    #: Its own key column and boolean columns (``key``, ``booleans``).
    columns: SourceColumns = NO_COLUMNS


@attrs.frozen
class SinkConfig:
    """One ``[sinks.NAME]`` table (or the ``--out`` flag)."""

    name: str
    plugin: str
    options: Mapping[str, Any] = attrs.field(factory=dict)
    origin: str = attrs.field(default="", eq=False)
    #: The consent purpose (a key of the project's ``[consent]``) members need to be sent.
    purpose: str | None = None
    #: ``"sha256"``: identifier columns are normalised and hashed before the sink sees them.
    hash_identifiers: str | None = None


@attrs.frozen
class Project:
    """Everything a run needs to know besides the data and the rules' text."""

    path: Path | None
    root: Path
    rules: tuple[str, ...] = ()
    key: str = "customer_id"
    as_of: dt.date | dt.datetime | None = None
    timezone: str = "UTC"
    holdout_salt: str = ""
    state_dir: str = ".segmint"
    sources: tuple[SourceConfig, ...] = ()
    sinks: tuple[SinkConfig, ...] = ()
    #: Options for metric plugins (``[metrics]``), handed to every metric's computation.
    metrics: Mapping[str, Any] = attrs.field(factory=dict)
    #: Consent columns by purpose (``[consent] email = "email_consent"``).
    consent: Mapping[str, str] = attrs.field(factory=dict)
    #: Contact identifier columns by kind (``[identifiers] email = "email"``): email, phone.
    identifiers: Mapping[str, str] = attrs.field(factory=dict)
    #: Options of ``segmint serve`` (``[serve]``), checked by the serve command.
    serve: Mapping[str, Any] = attrs.field(factory=dict)
    #: The engine that evaluates (``engine = "..."``, ``--engine``), found by name at prepare;
    #: ``auto`` (the default) lets the run choose (`segmint.project.engine_choice`).
    engine: str = AUTO
    #: Where the engine was named, for messages: the project file's key or ``--engine``.
    engine_origin: tuple[str | None, str] = attrs.field(default=(None, "engine"), eq=False)
    #: The ``[engine]`` table's options besides ``name`` (``master``, ``memory_limit``...).
    engine_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Options of ``segmint report`` (``[report]``, ``[report.costs]``), checked by the report.
    report: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def without_file(cls, root: Path | None = None) -> Project:
        """A project made of CLI flags only, rooted at `root` (the current directory)."""
        return cls(path=None, root=(root or Path.cwd()).absolute())

    @property
    def label(self) -> str | None:
        """The project file as messages name it, or None for a CLI-only project."""
        return None if self.path is None else str(self.path)

    @property
    def state_path(self) -> Path:
        return self.root / self.state_dir

    def context(self, as_of: dt.datetime | None = None) -> PluginContext:
        """What sources and sinks are told about the run."""
        return PluginContext(
            project_dir=self.root,
            key=self.key,
            as_of=as_of,
            timezone=self.timezone,
            state_dir=self.state_path,
        )

    def with_overrides(
        self,
        *,
        rules: Iterable[str | os.PathLike[str]] = (),
        sources: Iterable[str | tuple[str, str | os.PathLike[str]]] = (),
        events: Iterable[str | tuple[str, str | os.PathLike[str]]] = (),
        out: str | os.PathLike[str] | None = None,
        key: str | None = None,
        as_of: str | dt.date | None = None,
        engine: str | None = None,
        registry: PluginRegistry | None = None,
    ) -> Project:
        """This project with CLI flags applied: extra rule files, ``--source NAME=PATH`` and
        ``--events NAME=PATH`` (replacing project sources of the same name), ``--out``,
        ``--key``, ``--as-of`` and ``--engine``. Paths on the command line are relative to the current
        directory."""
        changes: dict[str, Any] = {}
        if rules:
            changes["rules"] = self.rules + tuple(str(Path(r).absolute()) for r in rules)
        flags = [("--source", PROFILES, s) for s in sources] + [
            ("--events", EVENTS, e) for e in events
        ]
        if flags:
            by_name = {s.name: s for s in self.sources}
            for flag, role, item in flags:
                config = _source_from_flag(flag, role, item, registry or get_registry())
                by_name[config.name] = config
            changes["sources"] = tuple(by_name.values())
        if out is not None:
            changes["sinks"] = self.sinks + (_sink_from_flag(out, registry or get_registry()),)
        if key is not None:
            changes["key"] = _check_key(key, None, "--key")
        if as_of is not None:
            changes["as_of"] = _as_of(as_of, None, "--as-of")
        if engine is not None:
            changes["engine"] = _engine(engine, None, "--engine")
            changes["engine_origin"] = (None, "--engine")
            if changes["engine"] != self.engine:  # the [engine] table's options are another's
                changes["engine_options"] = {}
        return attrs.evolve(self, **changes)


def find_project_file(directory: Path | None = None) -> Path | None:
    """``segmint.toml`` in `directory` (the current one) if there is one."""
    candidate = (directory or Path()) / PROJECT_FILE
    return candidate if candidate.is_file() else None


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read and check a project file."""
    path = Path(path)
    label = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("project file not found", file=label) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a project file", file=label) from None
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=label) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=label) from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_NESTING:
        raise ConfigError("not valid TOML: arrays or tables nested too deeply (segmint reads at"
                          f" most {MAX_NESTING} levels)", file=label)
    return _project_from_table(data, path, label)


def _depth(value: Any, limit: int = MAX_NESTING + 1) -> int:
    """How deeply `value` nests arrays and tables, counted up to `limit`."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def expand_rule_files(project: Project) -> list[Path]:
    """The rule files a project names, globs expanded and sorted, each file once."""
    key = "rules" if project.path is not None else None
    files: dict[Path, None] = {}
    for pattern in project.rules:
        full = os.path.join(project.root, os.path.expanduser(pattern))
        if glob.has_magic(full):
            matches = [Path(p) for p in globbing.expand(full)]
            if not matches:
                raise ConfigError(f"'{pattern}' matches no files", file=project.label, key=key)
            files.update(dict.fromkeys(matches))
        elif os.path.isfile(full):
            files[Path(full)] = None
        else:
            raise ConfigError(f"rule file '{pattern}' not found", file=project.label, key=key)
    return list(files)


def instantiate_sources(
    project: Project, registry: PluginRegistry, context: PluginContext
) -> dict[str, Source]:
    """Build each configured source, its options checked.

    What the project says of a source (a role and timestamp column that win over the
    plugin's, its key policy, its column options, where it was declared) reaches it through
    its context (`SourceSettings`), read by `Source.__init__`: nothing is set on a source
    after it is built."""
    built = {}
    for config in project.sources:
        policy_options, plugin_options = split_options(config.options)
        where = config.origin or f"[sources.{config.name}]"
        cls = _plugin_class(project, registry.sources, "source", config)
        policy = build_policy(policy_options, cls, plugin=config.plugin, where=where,
                              role=config.role or cls.role)
        settings = SourceSettings(role=config.role, timestamp_column=config.timestamp_column,
                                  origin=where, on_bad_rows=policy.on_bad_rows, policy=policy,
                                  columns=config.columns)
        key = context.key if config.columns.key is None else config.columns.key
        own = attrs.evolve(context, key=key, source=settings)
        source = _instantiate(cls, "source", attrs.evolve(config, options=plugin_options), own,
                              registry)
        if getattr(source, "context", None) is not own:
            raise ConfigError(
                f"source plugin '{config.plugin}' ({provenance(registry, 'source', config.plugin)})"
                " does not call Source.__init__ from its __init__, so the project's settings of"
                " the source cannot reach it; call super().__init__(source_name, options, context)",
                file=where)
        built[config.name] = source
    return built


def instantiate_sinks(
    project: Project, registry: PluginRegistry, context: PluginContext
) -> dict[str, Sink]:
    """Build each configured sink, its options checked."""
    return {
        config.name: _instantiate(_plugin_class(project, registry.sinks, "sink", config), "sink",
                                  config, context, registry)
        for config in project.sinks
    }


def _plugin_class(project: Project, classes: Mapping[str, type], kind: str,
                  config: SourceConfig | SinkConfig) -> Any:
    """The class of the plugin `config` names; an unknown name is a clear error."""
    cls = classes.get(config.plugin)
    if cls is None:
        available = ", ".join(sorted(classes)) or "none installed"
        raise ConfigError(
            f"unknown {kind} plugin '{config.plugin}'{did_you_mean(config.plugin, classes)};"
            f" available: {available}",
            file=project.label,
            key=f"{kind}s.{config.name}.plugin",
        )
    return cls


def _instantiate(
    cls: Any,
    kind: str,
    config: SourceConfig | SinkConfig,
    context: PluginContext,
    registry: PluginRegistry,
) -> Any:
    """An instance of plugin class `cls` for `config`, its options checked; a failure in
    its constructor is a `PluginError` naming the plugin and where it was configured."""
    where = config.origin or f"[{kind}s.{config.name}]"
    options = build_options(cls.Options, config.options, plugin=config.plugin, where=where)
    with calling_plugin(lambda: f"{kind} plugin '{config.plugin}' "
                        f"({provenance(registry, kind, config.plugin)}) failed to start for {where}"):
        return cls(config.name, options, context)


# Reading the project file.

_TOP_LEVEL: dict[str, Callable[[Any, str, str], Any]] = {}


def _top_level(name: str) -> Callable[[Callable[[Any, str, str], Any]], Any]:
    """Register the checker of one top-level key; the table of known keys is built from it."""

    def register(check: Callable[[Any, str, str], Any]) -> Any:
        _TOP_LEVEL[name] = check
        return check

    return register


def _project_from_table(data: Mapping[str, Any], path: Path, label: str) -> Project:
    for key in data:
        if key not in _TOP_LEVEL:
            known = ", ".join(sorted(_TOP_LEVEL))
            raise ConfigError(
                f"unknown key{did_you_mean(key, _TOP_LEVEL)}; known keys: {known}",
                file=label,
                key=key,
            )
    values = {key: _TOP_LEVEL[key](value, label, key) for key, value in data.items()}
    if isinstance(data.get("engine"), dict):  # [engine] name = "...", and its options
        values["engine_options"] = {k: v for k, v in data["engine"].items() if k != "name"}
    for sink in values.get("sinks", ()):
        if sink.purpose is not None and sink.purpose not in values.get("consent", {}):
            declared = ", ".join(values.get("consent", {})) or "none"
            raise ConfigError(f"purpose '{sink.purpose}' has no consent column in [consent] "
                              f"(declared: {declared})", file=label, key=f"sinks.{sink.name}.purpose")
    if "engine" in values:
        values["engine_origin"] = (label, "engine")
    return Project(path=path, root=path.absolute().parent, **values)


@_top_level("rules")
def _rules(value: Any, label: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of strings", file=label, key=key)
    return tuple(value)


@_top_level("key")
def _check_key(value: Any, label: str | None, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must be a non-empty string", file=label, key=key)
    return value


@_top_level("as_of")
def _as_of(value: Any, label: str | None, key: str) -> dt.date | dt.datetime:
    if isinstance(value, dt.date):  # TOML dates and date-times arrive parsed
        return value
    if isinstance(value, str):
        try:
            return parse_as_of(value)
        except ConfigError:
            pass
    raise ConfigError(
        "must be a date (2026-01-31) or a timestamp (2026-01-31T18:00:00+01:00)",
        file=label,
        key=key,
    )


@_top_level("timezone")
def _timezone(value: Any, label: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError("must be a string", file=label, key=key)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone '{value}' (use a name such as 'UTC' or 'Europe/Paris')",
            file=label,
            key=key,
        ) from None
    return value


@_top_level("engine")
def _engine(value: Any, label: str | None, key: str) -> str:
    """An engine's name (``engine = "duckdb"``, or ``name`` in an ``[engine]`` table);
    whether one is installed by that name is checked at prepare."""
    if isinstance(value, dict) and label is not None:
        if "name" not in value:
            raise ConfigError("the [engine] table needs the engine's name: name = \"spark\"",
                              file=label, key=key)
        return _engine(value["name"], label, f"{key}.name")
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError("must be an engine's name, like \"arrow\" or \"duckdb\"", file=label, key=key)
    return value


@_top_level("holdout_salt")
def _holdout_salt(value: Any, label: str, key: str) -> str:
    return _string(value, label, key)


@_top_level("state_dir")
def _state_dir(value: Any, label: str, key: str) -> str:
    return _check_key(value, label, key)


@_top_level("sources")
def _sources(value: Any, label: str, key: str) -> tuple[SourceConfig, ...]:
    configs = []
    for name, table in _tables(value, label, key):
        role = table.pop("role", None)
        if role is not None and role not in ROLES:
            raise ConfigError(
                f"must be one of {', '.join(repr(r) for r in ROLES)}",
                file=label,
                key=f"{key}.{name}.role",
            )
        timestamp = table.pop("timestamp_column", None)
        if timestamp is not None:
            timestamp = _string(timestamp, label, f"{key}.{name}.timestamp_column")
        columns = SourceColumns.from_table(table, label, f"{key}.{name}")
        plugin = _plugin(table, label, f"{key}.{name}")
        origin = f"{label} [{key}.{name}]"
        configs.append(SourceConfig(name, plugin, role, table, origin=origin,
                                    timestamp_column=timestamp, columns=columns))
    return tuple(configs)


def _options_table(what: str) -> Callable[[Any, str, str], Mapping[str, Any]]:
    """A checker for a free-form table of options (checked by whoever uses them)."""

    def check(value: Any, label: str, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(f"must be a table of {what} options", file=label, key=key)
        return dict(value)

    return check


_top_level("metrics")(_options_table("metric"))


@_top_level("sinks")
def _sinks(value: Any, label: str, key: str) -> tuple[SinkConfig, ...]:
    configs = []
    for name, table in _tables(value, label, key):
        plugin = _plugin(table, label, f"{key}.{name}")
        purpose = table.pop("purpose", None)
        if purpose is not None:
            purpose = _string(purpose, label, f"{key}.{name}.purpose")
        hashing = table.pop("hash_identifiers", None)
        if hashing is not None and hashing not in HASHINGS:
            raise ConfigError(f"must be one of {', '.join(repr(h) for h in HASHINGS)}",
                              file=label, key=f"{key}.{name}.hash_identifiers")
        configs.append(SinkConfig(name, plugin, table, f"{label} [{key}.{name}]", purpose, hashing))
    return tuple(configs)


_top_level("serve")(_options_table("serve"))
_top_level("report")(_options_table("report"))


@_top_level("consent")
def _consent(value: Any, label: str, key: str) -> Mapping[str, str]:
    return _column_table(value, label, key, "a table of purpose = \"consent column\"")


@_top_level("identifiers")
def _identifiers(value: Any, label: str, key: str) -> Mapping[str, str]:
    table = _column_table(value, label, key, "a table such as { email = \"email\" }")
    for kind in table:
        if kind not in IDENTIFIER_KINDS:
            raise ConfigError(f"unknown identifier kind{did_you_mean(kind, IDENTIFIER_KINDS)}; "
                              f"known: {', '.join(IDENTIFIER_KINDS)}", file=label, key=f"{key}.{kind}")
    return table


def _column_table(value: Any, label: str, key: str, shape: str) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"must be {shape}", file=label, key=key)
    for name, column in value.items():
        if not isinstance(column, str) or not column.strip():
            raise ConfigError("must be a column name (a non-empty string)", file=label,
                              key=f"{key}.{name}")
    return dict(value)


def _tables(value: Any, label: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``[KEY.NAME]`` tables under `key`, each a fresh dict the caller may consume."""
    if not isinstance(value, dict):
        raise ConfigError(f"must be a table of [{key}.NAME] tables", file=label, key=key)
    tables = []
    for name, table in value.items():
        if not _NAME.match(name):
            raise ConfigError(
                "a name must be letters, digits and _ (not starting with a digit)",
                file=label,
                key=f"{key}.{name}",
            )
        if not isinstance(table, dict):
            raise ConfigError("must be a table", file=label, key=f"{key}.{name}")
        tables.append((name, dict(table)))
    return tables


def _plugin(table: dict[str, Any], label: str, key: str) -> str:
    if "plugin" not in table:
        raise ConfigError("is required", file=label, key=f"{key}.plugin")
    return _string(table.pop("plugin"), label, f"{key}.plugin")


def _string(value: Any, label: str | None, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError("must be a string", file=label, key=key)
    return value


# Reading CLI flags.


def _source_from_flag(
    flag: str, role: str, item: str | tuple[str, Any], registry: PluginRegistry
) -> SourceConfig:
    name, path = item if isinstance(item, tuple) else _assignment(flag, item)
    if not _NAME.match(name):
        raise ConfigError(
            "a source name must be letters, digits and _ (not starting with a digit)",
            key=f"{flag} {name}",
        )
    try:
        cls = source_for_path(registry, path)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"{flag} {name}") from None
    options = {"path": str(Path(path).absolute())}
    return SourceConfig(name, cls.name, role, options, origin=f"{flag} {name}")


def _sink_from_flag(path: str | os.PathLike[str], registry: PluginRegistry) -> SinkConfig:
    try:
        cls = sink_for_path(registry, path)
    except ConfigError as exc:
        raise ConfigError(exc.message, key="--out") from None
    return SinkConfig("out", cls.name, {"path": str(Path(path).absolute())}, origin="--out")


def _assignment(flag: str, text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"takes NAME=PATH, got '{text}'", key=flag)
    return name.strip(), path.strip()

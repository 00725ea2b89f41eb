"""The ``[serve]`` table of a project file: the options of `segmint serve`.

They are part of the project file, so they live with it: `segmint validate` checks them
with every other option (a typo such as ``prot = 8080`` is found before anyone starts the
service), and `segmint serve` reads them the same way, its flags overriding the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from segmint.errors import ConfigError
from segmint.plugin.options import build_options
from segmint.project.config import Project

DEFAULT_TOKEN_ENV = "SEGMINT_SERVE_TOKEN"


@attrs.frozen
class ServeOptions:
    """The ``[serve]`` table of a project file; flags of `segmint serve` override it."""

    host: str = attrs.field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = attrs.field(default=8080, metadata={"help": "port to listen on"})
    token_env: str = attrs.field(default=DEFAULT_TOKEN_ENV, metadata={
        "help": "environment variable holding the bearer token for every endpoint"})
    lookup_token_env: str | None = attrs.field(default=None, metadata={
        "help": "environment variable holding a token that may only look up visitors (pages)"})
    cors_origins: list[str] = attrs.field(factory=list, metadata={
        "help": "origins allowed to call the service from a browser"})
    poll_interval: float = attrs.field(default=1.0, metadata={
        "help": "seconds between checks for a new run"})
    header_timeout: float = attrs.field(default=10.0, metadata={
        "help": "seconds a client has to send a request's headers, and an evaluation's body"})


def serve_options(project: Project, flags: Mapping[str, Any] | None = None) -> ServeOptions:
    """The project's ``[serve]`` options with `flags` (the command's, None where not given)
    over them, checked: an unknown option (with a "did you mean"), a wrong type, a port out
    of range, a non-positive interval or an empty variable name is a `ConfigError` naming
    the option."""
    flags = flags or {}
    where = f"{project.label} [serve]" if project.label else "[serve]"
    table = dict(getattr(project, "serve", {}))
    for name in ("host", "port", "token_env", "lookup_token_env", "poll_interval"):
        if flags.get(name) is not None:
            table[name] = flags[name]
    if flags.get("cors_origins"):
        table["cors_origins"] = list(flags["cors_origins"])
    options = build_options(ServeOptions, table, plugin="serve", where=where)

    def refuse(name: str, message: str) -> None:
        raise ConfigError(message, file=project.label, key=f"serve.{name}")

    for name in ("poll_interval", "header_timeout"):
        if getattr(options, name) <= 0:
            refuse(name, f"{name} must be more than 0 seconds")
    if not 1 <= options.port <= 65535:
        refuse("port", f"port must be a port number from 1 to 65535, got {options.port}")
    if not options.host.strip():
        refuse("host", "host must be an address to listen on, such as \"127.0.0.1\"")
    for name in ("token_env", "lookup_token_env"):
        value = getattr(options, name)
        if value is not None and not value.strip():
            refuse(name, f"{name} must name an environment variable (the token itself is never"
                         " written in the project file)")
    if options.lookup_token_env is not None and options.lookup_token_env == options.token_env:
        refuse("lookup_token_env", f"lookup_token_env names the same variable as token_env "
                                   f"({options.token_env}): a lookup-only token needs its own")
    return options

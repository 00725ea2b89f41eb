"""`segmint serve`: run the personalization service on uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from segmint.errors import ConfigError, SegmintError
from segmint.plugin.commands import PluginRegistry, Project, stderr, with_project
from segmint.project.serve_options import DEFAULT_TOKEN_ENV, serve_options

@click.command("serve")
@with_project
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8080).")
@click.option("--token-env", help=f"Environment variable holding the bearer token "
                                  f"(default {DEFAULT_TOKEN_ENV}).")
@click.option("--lookup-token-env", help="Environment variable holding a lookup-only token.")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="An origin allowed to call the service from a browser (repeatable).")
@click.option("--poll-interval", type=float, help="Seconds between checks for a new run.")
def command(project: Project, registry: PluginRegistry, **flags: Any) -> None:
    """Serve visitors' segments from the latest run, and real-time evaluation."""
    try:
        import uvicorn

        from segmint.serve.app import ServeConfig, create_app, origins
        from segmint.serve.realtime import RealtimeEvaluator
        from segmint.serve.server import server_config
    except ImportError as error:
        raise SegmintError(f"segmint serve needs its extra: pip install 'segmint[serve]' "
                           f"({error.name} is missing)") from None
    from segmint.project.pipeline import prepare

    options = serve_options(project, flags)
    _check_state_dir(project)
    tokens = {_secret(options.token_env): "full"}
    if options.lookup_token_env:
        tokens.setdefault(_secret(options.lookup_token_env), "lookup")
    evaluator, unavailable = None, ""
    try:  # lookups need only the snapshots; evaluation needs the rules and sources' schemas
        evaluator = RealtimeEvaluator(prepare(project, registry, require_rules=False))
    except SegmintError as error:
        unavailable = str(error)
        stderr.print(f"warning: POST /v1/evaluate is off: {error}")
    config = ServeConfig(
        state_dir=project.state_path, tokens=tokens, cors_origins=origins(options.cors_origins),
        poll_interval=options.poll_interval, evaluator=evaluator,
        evaluator_unavailable=unavailable, body_timeout=options.header_timeout,
    )
    app = create_app(config)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    stderr.print(f"segmint serve: state in {project.state_path}, "
                 f"listening on http://{options.host}:{options.port}")
    uvicorn.Server(server_config(app, host=options.host, port=options.port,
                                 header_timeout=options.header_timeout, log_level="info",
                                 access_log=False)).run()


def _check_state_dir(project: Project) -> None:
    """A state_dir that exists must be a directory (it may not exist before the first run)."""
    path = project.state_path
    if path.exists() and not path.is_dir():
        raise ConfigError(f"state_dir '{path}' is a file, not a directory: point state_dir at"
                          f" the directory 'segmint run' stores its runs in", file=project.label,
                          key="state_dir")


def _secret(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise SegmintError(f"set the environment variable {variable} to the bearer token "
                           f"clients must send (the token is read from the environment only)")
    return value

"""The plugin and project-file docs stay true: every hook and option is documented, and the
example plugin in docs/writing-a-plugin.md works as shown."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from segmint.plugin import hookspecs
from segmint.plugin.host import get_registry, load_registry
from segmint.plugin.options import build_options, describe_options
from segmint.plugin.api import CallArgs, MetricContext, PluginContext, RunResult, SegmentInfo
from segmint.project.config import _TOP_LEVEL
from segmint.language.types import STRING

DOCS = Path(__file__).parents[2] / "docs"
PLUGIN_DOC = (DOCS / "writing-a-plugin.md").read_text()
PROJECT_DOC = (DOCS / "project-file.md").read_text()


def test_every_hook_is_documented():
    hooks = [name for name, f in vars(hookspecs).items() if hasattr(f, "segmint_spec")]
    assert hooks, "no hook specifications found"
    assert [h for h in hooks if f"### `{h}`" not in PLUGIN_DOC] == []


def test_every_project_key_is_documented():
    assert [k for k in _TOP_LEVEL if f"`{k}`" not in PROJECT_DOC] == []


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "file"])
def test_every_builtin_file_option_is_documented(kind):
    registry = get_registry()
    cls = (registry.sources | registry.sinks)[kind]
    section = PROJECT_DOC.split(f"### `{kind}`", 1)[1].split("\n### ", 1)[0]
    assert [o.name for o in describe_options(cls.Options) if f"`{o.name}`" not in section] == []


@pytest.fixture(scope="module")
def acme() -> Iterator[types.ModuleType]:
    """The example plugin module, imported from the docs' python block."""
    [code] = [
        block
        for block in re.findall(r"```python\n(.*?)```", PLUGIN_DOC, re.DOTALL)
        if "register_functions" in block
    ]
    module = types.ModuleType("segmint_acme")
    sys.modules[module.__name__] = module  # as an import would, for type hints
    try:
        exec(compile(code, "writing-a-plugin.md", "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


def test_example_plugin_registers(acme):
    registry = load_registry(extra_plugins=[acme], environ={"SEGMINT_PLUGINS": "segmint"})
    assert registry.failures == []
    info = registry.plugin_for("source", "acme_export")
    assert (info.sources, info.metrics, info.sinks, info.functions) == (
        ("acme_export",),
        ("order_count",),
        ("acme_audiences",),
        ("email_domain",),
    )


def test_example_source(acme, tmp_path):
    (tmp_path / "contacts.acme.json").write_text(
        json.dumps([{"id": 1, "email": "Ann@Gmail.com"}, {"id": 2, "email": "bo@acme.io"}])
    )
    options = build_options(
        acme.AcmeExportOptions, {"path": "contacts.acme.json"}, plugin="acme_export", where="t"
    )
    source = acme.AcmeExportSource("contacts", options, PluginContext(project_dir=tmp_path))
    assert source.schema().names == ["customer_id", "email"]
    assert source.read(["email"]).column("customer_id").to_pylist() == ["1", "2"]


def test_example_metric_ignores_orders_after_as_of(acme):
    orders = pa.table(
        {
            "customer_id": ["1", "1", "2", "1"],
            "ordered_at": pa.array(
                [dt.datetime(2026, 1, d) for d in (1, 2, 3, 28)], pa.timestamp("us")
            ),
        }
    )
    context = MetricContext(
        events={"orders": orders},
        key="customer_id",
        as_of=dt.datetime(2026, 1, 15, tzinfo=dt.timezone.utc),
    )
    result = acme.ORDER_COUNT.compute(context).sort_by("customer_id")
    assert result.to_pydict() == {"customer_id": ["1", "2"], "order_count": [2, 1]}


def test_example_function(acme):
    call = CallArgs(args=(pc.field("email"),), types=(STRING,), nodes=())
    expression = acme.EMAIL_DOMAIN.builder("arrow")(call)
    table = pa.table({"email": ["Ann@Gmail.com", None]})
    assert ds.dataset(table).to_table(columns={"d": expression})["d"].to_pylist() == [
        "gmail.com",
        None,
    ]


def test_example_command(acme, tmp_path):
    (tmp_path / "contacts.acme.json").write_text('[{"id": 1}, {"id": 2}]')
    cli = click.Group("segmint")
    acme.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["acme-check", str(tmp_path / "contacts.acme.json")])
    assert (result.exit_code, result.output) == (0, "2 contacts\n")


def test_example_sink(acme, tmp_path):
    membership = pa.table({"customer_id": ["1", "2"], "vip": [True, False]})
    result = RunResult(
        membership=membership,
        profiles=membership.select(["customer_id"]),
        key="customer_id",
        as_of=dt.datetime(2026, 1, 15, tzinfo=dt.timezone.utc),
        segments=(SegmentInfo("vip", "segment"),),
    )
    options = build_options(
        acme.AudienceOptions, {"directory": "out"}, plugin="acme_audiences", where="t"
    )
    sink = acme.AudienceSink("mail", options, PluginContext(project_dir=tmp_path))
    assert sink.deliver(result, dry_run=True).added == 1
    assert not (tmp_path / "out").exists()
    assert sink.deliver(result).added == 1
    assert (tmp_path / "out" / "vip.txt").read_text() == "1\n"

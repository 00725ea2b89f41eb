"""A third-party plugin, built and installed as a real distribution, found like the built-ins.

Two throwaway distributions are written and installed with pip into a temporary target
directory: `myplug` (a source that makes up a table, and a sink that writes JSON) and
`brokenplug` (whose module raises on import). `segmint` then runs as a subprocess with that
directory on PYTHONPATH and SEGMINT_PLUGINS unset, so plugins load from entry points exactly
as they would for a user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MYPLUG = '''
    """A source that makes customers up and a sink that writes them as JSON."""

    import json

    import attrs
    import pyarrow as pa

    import segmint


    @attrs.frozen
    class GeneratedOptions:
        rows: int = 10


    class GeneratedSource(segmint.Source):
        name = "generated"
        description = "customers made up on the spot"
        Options = GeneratedOptions

        def schema(self):
            return pa.schema([(self.context.key, pa.string()), ("score", pa.int64()),
                              ("vip", pa.bool_())])

        def read(self, columns=None):
            n = self.options.rows
            table = pa.table({
                self.context.key: [f"c{i}" for i in range(n)],
                "score": list(range(n)),
                "vip": [i % 3 == 0 for i in range(n)],
            })
            return table if columns is None else table.select([self.context.key, *columns])


    @attrs.frozen
    class JsonOptions:
        path: str


    class JsonSink(segmint.Sink):
        name = "jsonfile"
        description = "membership as a JSON list of rows"
        Options = JsonOptions
        extensions = (".members.json",)

        def deliver(self, result, *, dry_run=False):
            rows = result.membership.to_pylist()
            target = self.context.project_dir / self.options.path
            if not dry_run:
                target.write_text(json.dumps(rows))
            return segmint.Delivery(self.sink_name, added=len(rows), target=str(target),
                                    dry_run=dry_run)


    @segmint.hookimpl
    def register_sources():
        return [GeneratedSource]


    @segmint.hookimpl
    def register_sinks():
        return [JsonSink]
'''

PYPROJECT = '''
    [build-system]
    requires = ["setuptools>=70.1"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "{name}"
    version = "{version}"

    [project.entry-points.segmint]
    {entry_point} = "{module}"

    [tool.setuptools]
    py-modules = ["{module}"]
'''


def _distribution(root: Path, name: str, version: str, entry_point: str, module: str,
                  code: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT).format(
        name=name, version=version, entry_point=entry_point, module=module))
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the two distributions are installed into (pip --target)."""
    base = tmp_path_factory.mktemp("plugins")
    good = _distribution(base / "myplug", "myplug", "1.2.3", "myplug", "myplug", MYPLUG)
    broken = _distribution(base / "brokenplug", "brokenplug", "0.0.1", "broken", "brokenplug",
                           'raise RuntimeError("boom: no API key configured")\n')
    target = base / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(good), str(broken)],
        check=True, capture_output=True, text=True,
    )
    assert {p.name for p in target.glob("*.dist-info")} == {
        "myplug-1.2.3.dist-info", "brokenplug-0.0.1.dist-info"}
    return target


def segmint(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEGMINT_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "segmint.toml").write_text(textwrap.dedent('''
        rules = ["rules.seg"]
        as_of = "2026-01-31"

        [sources.made]
        plugin = "generated"
        rows = 10

        [sinks.members]
        plugin = "jsonfile"
        path = "members.json"
    '''))
    (root / "rules.seg").write_text("segment high: score >= 5\nsegment vips: vip and score > 0\n")
    return root


def test_plugins_lists_the_plugin_and_reports_the_broken_one(site: Path, project: Path) -> None:
    result = segmint(site, project, "plugins")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    mine = [row for row in rows if row.startswith("│ myplug ")]
    assert len(mine) == 1
    cells = [cell.strip() for cell in mine[0].strip("│").split("│")]
    assert cells == ["myplug", "1.2.3", "myplug", "generated", "", "jsonfile", "", ""]
    assert any(row.startswith("│ segmint ") and "csv, parquet" in row for row in rows)
    assert ("failed: plugin brokenplug 0.0.1 (entry point 'broken') failed to load: "
            "RuntimeError: boom: no API key configured") in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_run_uses_the_plugin_source_and_sink(site: Path, project: Path) -> None:
    result = segmint(site, project, "run", "--out", "built-in.csv")
    assert result.returncode == 0, result.stderr
    assert "segments as of 2026-01-31 23:59:59 UTC, 10 customers" in result.stdout
    assert "│ high " in result.stdout and "│ vips " in result.stdout
    assert f"sink members: 10 added → {project / 'members.json'}" in result.stdout
    rows = json.loads((project / "members.json").read_text())
    assert rows[:4] == [
        {"customer_id": "c0", "high": False, "vips": False},
        {"customer_id": "c1", "high": False, "vips": False},
        {"customer_id": "c2", "high": False, "vips": False},
        {"customer_id": "c3", "high": False, "vips": True},
    ]
    assert [r["customer_id"] for r in rows if r["high"]] == ["c5", "c6", "c7", "c8", "c9"]
    # the built-in file sink still works beside the plugin, and the broken plugin is a warning
    assert (project / "built-in.csv").read_text().splitlines()[1] == '"c0",false,false'
    assert ("warning: plugin brokenplug 0.0.1 (entry point 'broken') failed to load: "
            "RuntimeError: boom: no API key configured") in result.stderr


def test_out_picks_the_plugin_sink_by_extension(site: Path, project: Path) -> None:
    result = segmint(site, project, "run", "--out", "picked.members.json", "--sink", "out")
    assert result.returncode == 0, result.stderr
    assert f"sink out: 10 added → {project / 'picked.members.json'}" in result.stdout
    assert len(json.loads((project / "picked.members.json").read_text())) == 10


def test_without_the_plugin_the_project_names_its_absence(project: Path, tmp_path: Path) -> None:
    result = segmint(tmp_path, project, "validate")
    assert result.returncode == 1
    assert "\nerror: segmint.toml: sources.made.plugin: unknown source plugin 'generated'" in (
        "\n" + result.stderr)
    assert "Traceback" not in result.stderr

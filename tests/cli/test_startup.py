"""Light commands import only what they need: `segmint --version` neither pyarrow nor the
plugins, `import segmint` nothing heavy, `segmint validate` and `--help` not pandas (which
pyarrow.dataset, and pyarrow's array constructors, bring in), and none of them sqlglot (the SQL
engines import it when they run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import contextlib, io, json, sys
from segmint.cli import main
sys.argv = ["segmint", *{args!r}]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
"""
HEAVY = ["pyarrow", "pandas", "pluggy", "lark", "segmint.plugins", "segmint.project.pipeline",
         "sqlglot"]  # the SQL engines import sqlglot when they run, not when they are found


def _imported(args: list[str], cwd: Path) -> list[str]:
    code = PROBE.format(args=args, modules=HEAVY)
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                            env={"SEGMINT_PLUGINS": "segmint", "PATH": "/usr/bin:/bin"}, check=True)
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(("args", "allowed"), [
    (["--version"], []),
    (["--help"], ["lark", "pluggy", "pyarrow", "segmint.plugins", "segmint.project.pipeline"]),
    (["validate"], ["lark", "pluggy", "pyarrow", "segmint.plugins", "segmint.project.pipeline"]),
])
def test_light_commands_import_little(tmp_path, args, allowed):
    from click.testing import CliRunner

    from segmint.cli import cli

    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    assert _imported(args, tmp_path) == allowed


def test_importing_segmint_imports_no_engine():
    code = "import json, sys, segmint; print(json.dumps([m for m in %r if m in sys.modules]))" % HEAVY
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_every_public_name_resolves():
    import segmint

    assert all(getattr(segmint, name) is not None for name in segmint.__all__)

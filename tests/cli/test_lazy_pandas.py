"""`lazy_pandas.defer`: pyarrow works without importing pandas, and once anything imports
pandas, pyarrow converts pandas objects exactly as it does without the deferral. Each case
runs in a fresh interpreter (the deferral changes the process's import state)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

#: pandas conversions whose result depends on pyarrow knowing pandas is there.
CONVERSIONS = """
import pandas as pd, pyarrow as pa
out = [
    str(pa.array(pd.Series(pd.Categorical(["a", "b", "a"]))).type),
    str(pa.array(pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("Europe/Paris"))).type),
    str(pa.table(pd.DataFrame({"x": [1.5, None]})).schema),
    str(pa.Table.from_pandas(pd.DataFrame({"c": pd.Categorical(["u"])})).schema.field("c").type),
    type(pa.scalar(1, pa.timestamp("ns")).as_py()).__name__,
    pa.table({"n": [1, 2]}).to_pandas()["n"].tolist(),
]
"""


def _python(code: str, cwd: Path | None = None) -> list:
    env = {**os.environ, "SEGMINT_PLUGINS": "segmint"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, cwd=cwd,
                            text=True, env=env, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_pyarrow_works_without_importing_pandas():
    assert _python("""
        import json, sys
        from segmint.cli import lazy_pandas
        deferred = lazy_pandas.defer()
        import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.dataset
        a = pa.array(np.arange(5))
        done = [a.to_numpy().tolist(), pa.table({"a": a}).column("a").to_pylist(),
                pc.sum(pa.array([1, 2])).as_py(), pa.chunked_array([a, a]).to_numpy().tolist()]
        print(json.dumps([deferred, "pandas" in sys.modules, done]))
    """) == [True, False, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 3, [0, 1, 2, 3, 4] * 2]]


@pytest.mark.parametrize("how", ["import pandas", "pa.table({'n': [1]}).to_pandas()",
                                 "import importlib; importlib.import_module('pandas.api.types')"])
def test_pandas_imported_later_converts_as_without_deferral(how):
    plain = _python(CONVERSIONS + "import json; print(json.dumps(out))")
    deferred = _python(textwrap.dedent(f"""
        import json
        from segmint.cli import lazy_pandas
        assert lazy_pandas.defer()
        import numpy as np, pyarrow as pa
        pa.array(np.arange(3)).to_numpy()
        {how}
    """) + CONVERSIONS + "print(json.dumps(out))")
    assert deferred == plain
    assert plain[0].startswith("dictionary") and plain[4] == "Timestamp"


def test_nothing_deferred_once_pandas_is_imported():
    assert _python("""
        import json, pandas
        from segmint.cli import lazy_pandas
        print(json.dumps([lazy_pandas.defer()]))
    """) == [False]


def test_profile_to_a_file_imports_no_pandas_and_writes_the_same_table(tmp_path: Path):
    orders = tmp_path / "orders.parquet"
    pq.write_table(pa.table({
        "customer_id": [3, 1, 2, 1, 3, 3],
        "timestamp": pa.array([1_700_000_000_000_000 + i * 86_400_000_000 for i in range(6)],
                              pa.timestamp("us", tz="UTC")),
        "amount": [10.0, 25.5, -3.0, 7.25, 1.0, 99.99],
    }), orders)
    args = ["profile", "--events", f"orders={orders}", "--as-of", "2024-01-31", "--metrics",
            "recency,frequency,monetary,aov,tenure,rfm_r,rfm_f,rfm_m,rfm_score,rfm_segment"]
    pandas_imported = _python(f"""
        import contextlib, io, json, sys
        from segmint.cli import main
        sys.argv = ["segmint", *{args + ["--out", str(tmp_path / "deferred.parquet")]!r}]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main()
        print(json.dumps(["pandas" in sys.modules]))
    """, cwd=tmp_path)
    assert pandas_imported == [False]
    _python(f"""
        import contextlib, io, json, sys
        import pandas  # imported first: nothing is deferred
        from segmint.cli import main
        sys.argv = ["segmint", *{args + ["--out", str(tmp_path / "plain.parquet")]!r}]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main()
        print(json.dumps([]))
    """, cwd=tmp_path)
    deferred = pq.read_table(tmp_path / "deferred.parquet")
    assert deferred.num_rows == 3
    assert deferred.equals(pq.read_table(tmp_path / "plain.parquet"))

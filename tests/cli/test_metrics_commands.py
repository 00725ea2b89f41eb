"""`segmint profile` and `segmint clv fit/validate` on the CDNOW orders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from segmint.cli import _plugin_commands, cli

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ids, days, amounts = [], [], []
    for line in CDNOW.read_text().splitlines():
        _, customer, day, _, amount = line.split()
        ids.append(int(customer))
        days.append(dt.datetime.strptime(day, "%Y%m%d").date())
        amounts.append(float(amount))
    path = tmp_path_factory.mktemp("orders") / "orders.parquet"
    pq.write_table(pa.table({"customer_id": ids, "timestamp": pa.array(days, pa.date32()),
                             "amount": amounts}), path)
    return path


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    _plugin_commands()


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run outside the repository, whose own segmint.toml would otherwise be picked up."""
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_clv_fit_json_reproduces_published_parameters(orders: Path) -> None:
    code, out, err = invoke("clv", "fit", "--events", f"orders={orders}", "--as-of", "1997-09-30", "--json")
    assert code == 0, err
    fit = json.loads(out)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert fit["bgnbd"][name] == pytest.approx(value, rel=2e-3)
    assert fit["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert fit["gamma_gamma"]["p"] == pytest.approx(6.25, rel=2e-3)
    assert (fit["customers"], fit["repeat_customers"], fit["time_unit"]) == (2357, 946, "week")


def test_clv_validate_prints_calibration_table(orders: Path) -> None:
    code, out, err = invoke("clv", "validate", "--events", f"orders={orders}", "--as-of", "1998-06-30",
                            "--calibration-end", "1997-09-30")
    assert code == 0, err
    assert "actual 1882" in out
    assert "7+" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clv", "fit", "--as-of", "1997-09-30"], "no 'orders' event source"),
        (["clv", "fit", "--events", "orders={orders}"], "--as-of is required"),
    ],
)
def test_clv_user_errors(orders: Path, args: list[str], message: str) -> None:
    code, _, err = invoke(*[a.format(orders=orders) for a in args])
    assert code == 1
    assert message in err
    assert "Traceback" not in err


def test_profile_writes_requested_metrics(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile.parquet"
    code, stdout, err = invoke("profile", "--events", f"orders={orders}", "--as-of", "1997-09-30",
                               "--metrics", "frequency,rfm_segment", "--out", str(out))
    assert code == 0, err
    table = pq.read_table(out)
    assert table.column_names == ["customer_id", "frequency", "rfm_segment"]
    assert table.num_rows == 2357


def test_profile_unknown_metric_suggests(orders: Path) -> None:
    code, _, err = invoke("profile", "--events", f"orders={orders}", "--metrics", "monetery")
    assert code == 1
    assert "did you mean 'monetary'?" in err


def test_run_uses_metrics_in_rules(orders: Path, tmp_path: Path) -> None:
    rules = tmp_path / "value.seg"
    rules.write_text('segment champions: rfm_segment == "Champions"\n'
                     "segment vip: clv_12mo in top 5% and p_alive > 0.8\n")
    out = tmp_path / "m.parquet"
    code, _, err = invoke("run", str(rules), "--events", f"orders={orders}", "--as-of", "1997-09-30",
                          "--out", str(out))
    assert code == 0, err
    membership = pq.read_table(out)
    assert 0 < sum(membership.column("vip").to_pylist()) <= 0.06 * 2357
    assert sum(membership.column("champions").to_pylist()) > 0


def test_configured_horizons_become_rule_columns(orders: Path, tmp_path: Path) -> None:
    (tmp_path / "r.seg").write_text("segment long_value: clv_18mo in top 10%\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["r.seg"]\nas_of = "1997-09-30"\n'
        f'[sources.orders]\nplugin = "parquet"\nrole = "events"\npath = "{orders}"\n'
        '[metrics]\nhorizons = ["18mo"]\n'
    )
    code, out, err = invoke("run", "--dry-run")
    assert code == 0, err
    assert "long_value" in out


def test_a_bad_metric_option_is_refused_before_reading(orders: Path, tmp_path: Path) -> None:
    (tmp_path / "r.seg").write_text("segment long_value: clv_18mo > 0\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["r.seg"]\n'
        f'[sources.orders]\nplugin = "parquet"\nrole = "events"\npath = "{orders}"\n'
        '[metrics]\nhorizons = ["eighteen months"]\n'
    )
    code, _, err = invoke("validate")
    assert code == 1
    assert "metrics.horizons" in err
    assert "Traceback" not in err


def test_clv_fit_without_dropout_warns_in_one_line(tmp_path: Path) -> None:
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "metrics"))
    from test_clv_boundaries import AS_OF, orders_without_dropout

    path = tmp_path / "steady.parquet"
    pq.write_table(orders_without_dropout(3), path)
    code, out, err = invoke("clv", "fit", "--events", f"orders={path}", "--as-of", str(AS_OF))
    assert code == 0, err
    assert err.splitlines() == ["warning: BG/NBD: the data shows almost no dropout, so the fit"
                                " is the model's limit without dropout (a = 0): p_alive is 1"
                                " for everyone, and expected orders follow each customer's"
                                " own purchase rate"]
    assert "a=0 b=1" in out and "note: BG/NBD: the data shows almost no dropout" in out

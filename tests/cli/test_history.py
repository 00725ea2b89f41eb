"""`segmint history` and `segmint diff` over runs stored by `segmint run`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from segmint.cli import cli
from segmint.delivery.snapshots import list_snapshots, load_snapshot


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="segmint")


def ok(*args: str | Path) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def user_error(*args: str | Path) -> str:
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr.strip().splitlines()[-1].removeprefix("error: ")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ok("init", tmp_path / "shop")
    monkeypatch.chdir(tmp_path / "shop")
    return tmp_path / "shop"


def runs(shop: Path) -> list[str]:
    return [s.run_id for s in list_snapshots(shop / ".segmint")]


def test_run_stores_a_snapshot_and_dry_run_does_not(shop: Path) -> None:
    ok("run", "--dry-run")
    assert not (shop / ".segmint").exists()
    result = ok("run")
    (run_id,) = runs(shop)
    assert f"run {run_id} stored in .segmint/runs/{run_id}" in result.output
    meta = json.loads((shop / ".segmint" / "runs" / run_id / "run.json").read_text())
    assert meta["as_of"] == "1998-06-30T23:59:59.999999+00:00"
    assert meta["counts"]["champions"] == 96 and meta["counts"]["lifecycle=lost"] == 1539
    assert re.fullmatch(r"[0-9a-f]{64}", meta["rules_sha256"])
    assert meta["plugins"]["segmint"] == meta["segmint_version"]
    profiles = load_snapshot(shop / ".segmint", "latest").profiles
    assert profiles.column_names[0] == "customer_id"
    assert {"orders", "total_spent", "country", "email_consent"} <= set(profiles.column_names)


def test_the_snapshot_holds_the_declared_consent_and_identifier_columns(shop: Path) -> None:
    text = (shop / "segmint.toml").read_text()
    head, sources = text.split("[sources.", 1)
    (shop / "segmint.toml").write_text(head + '[consent]\nemail = "email_consent"\n\n'
                                       '[identifiers]\nemail = "email"\n\n[sources.' + sources)
    ok("run")
    profiles = load_snapshot(shop / ".segmint", "latest").profiles
    assert "email" in profiles.column_names


def test_a_consent_column_that_does_not_exist_fails_before_data_is_read(shop: Path) -> None:
    text = (shop / "segmint.toml").read_text()
    head, sources = text.split("[sources.", 1)
    (shop / "segmint.toml").write_text(head + '[consent]\nemail = "mail_ok"\n\n[sources.' + sources)
    assert user_error("validate").startswith("'mail_ok' is not a known column or metric")


def test_a_purpose_without_consent_column_is_a_project_error(shop: Path) -> None:
    with (shop / "segmint.toml").open("a") as toml:
        toml.write('purpose = "sms"\n')
    assert user_error("run") == (
        "segmint.toml: sinks.membership.purpose: purpose 'sms' has no consent column in [consent] "
        "(declared: none)")


def test_history_lists_runs_oldest_first(shop: Path) -> None:
    assert ok("history").output == "no runs stored in .segmint yet\n"
    ok("run", "--as-of", "1997-12-31")
    ok("run")
    first, second = runs(shop)
    lines = ok("history").output.splitlines()
    header = next(line for line in lines if "run" in line and "as of" in line)
    assert re.findall(r"\w[\w=]*", header)[:5] == ["run", "created", "as", "of", "champions"]
    rows = [line for line in lines if first in line or second in line]
    assert first in rows[0] and "1997-12-31 23:59:59 UTC" in rows[0] and "(latest)" not in rows[0]
    assert second in rows[1] and "1998-06-30 23:59:59 UTC" in rows[1] and "(latest)" in rows[1]
    assert re.search(r"│\s+13 │\s+106 │", rows[0]) and re.search(r"│\s+96 │\s+291 │", rows[1])
    last = ok("history", "-n", "1").output
    assert second in last and first not in last


def test_diff_counts_who_entered_and_left(shop: Path) -> None:
    ok("run", "--as-of", "1997-12-31")
    ok("run")
    first, second = runs(shop)
    output = ok("diff", first, second).output
    assert output.splitlines()[0] == (
        f"from {first} (as of 1997-12-31 23:59:59 UTC) to {second} (as of 1998-06-30 23:59:59 UTC)")
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]]
            for line in output.splitlines() if line.startswith("│")}
    assert rows["champions"] == ["13", "96", "96", "13"]
    assert rows["big_spenders"] == ["236", "236", "0", "0"]
    assert rows["lifecycle=active"][:2] == ["167", "300"]
    assert ok("diff", "previous", "latest").output == output
    assert ok("diff", first[:-1], second[:-1]).output == output  # unique prefixes


def test_diff_shows_keys_of_one_segment(shop: Path) -> None:
    ok("run", "--as-of", "1997-12-31")
    ok("run")
    output = ok("diff", "previous", "latest", "--segment", "champions", "--show-keys").output
    entered = [line for line in output.splitlines() if line.startswith("+ champions ")]
    left = [line for line in output.splitlines() if line.startswith("- champions ")]
    assert len(entered) == 96 and len(left) == 13
    snapshot = load_snapshot(shop / ".segmint", "latest")
    members = set(snapshot.membership.filter(snapshot.membership["champions"])["customer_id"].to_pylist())
    assert {line.split()[-1] for line in entered} <= members
    lifecycle = ok("diff", "previous", "latest", "--segment", "lifecycle").output
    assert "lifecycle=active" in lifecycle and "champions" not in lifecycle


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff", "nope", "latest"], "'nope' is not a stored run; 'segmint history' lists the runs"),
        (["diff", "previous", "latest"], "there is no previous run: fewer than two runs are stored"),
        (["diff", "latest", "latest", "--segment", "vip"], "no segment 'vip' in either run; they have: "),
    ],
)
def test_diff_user_errors(shop: Path, args: list[str], message: str) -> None:
    ok("run")
    assert user_error(*args).startswith(message)


def test_diff_before_any_run(shop: Path) -> None:
    assert user_error("diff", "latest", "latest") == (
        f"no runs stored in {shop / '.segmint' / 'runs'} yet: run 'segmint run' first")


def test_show_keys_needs_a_segment(shop: Path) -> None:
    result = invoke("diff", "a", "b", "--show-keys")
    assert result.exit_code == 2
    assert "--show-keys needs --segment" in result.output


TIERS = """\
segmentation tier "labels deliberately not in alphabetical order":
    zinc:   orders >= 10
    bronze: orders >= 2
    amber:  otherwise
"""


def test_history_and_diff_list_a_segmentations_labels_in_rule_order(shop: Path) -> None:
    (shop / "rules" / "tiers.seg").write_text(TIERS)
    ok("run", "--as-of", "1997-12-31")
    ok("run")
    first, second = runs(shop)
    stored = load_snapshot(shop / ".segmint", second)
    assert [n for n in stored.metadata["counts"] if n.startswith("tier=")] == [
        "tier=zinc", "tier=bronze", "tier=amber"]
    header = next(line for line in ok("history").output.splitlines() if "as of" in line)
    assert re.findall(r"tier=\w+", header) == ["tier=zinc", "tier=bronze", "tier=amber"]
    diff = ok("diff", first, second).output
    assert re.findall(r"tier=\w+", diff) == ["tier=zinc", "tier=bronze", "tier=amber"]
    run = ok("run", "--dry-run").output
    assert re.findall(r"tier=\w+", run) == ["tier=zinc", "tier=bronze", "tier=amber"]


def plain(text: str) -> str:
    """Terminal output without its styles (bold headers)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch):
    """Output as to a terminal of a given width (rich reads COLUMNS)."""
    import rich.console

    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda self: True))

    def width(columns: int) -> None:
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("NO_COLOR", "1")

    return width


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_history_fits_the_terminal_and_names_the_segments_left_out(shop: Path, terminal, columns: int) -> None:
    ok("run", "--as-of", "1997-12-31")
    ok("run")
    terminal(columns)
    output = plain(ok("history").output)
    assert max(len(line) for line in output.splitlines()) <= columns
    header = next(line for line in output.splitlines() if "as of" in line)
    shown = re.findall(r"[a-z_]+(?:=[a-z_]+)?", header.replace("as of", ""))
    names = [n for n in load_snapshot(shop / ".segmint", runs(shop)[-1]).metadata["counts"]]
    left_out = [n for n in names if n not in shown]
    if left_out:
        note = " ".join(output.split("do not fit the terminal's width:")[1].split())
        assert note.startswith(", ".join(left_out).replace("  ", " "))
        assert f"{len(left_out)} more segments" in output
    else:
        assert "do not fit" not in output
    assert shown[0] == "run" and [n for n in shown[1:] if n != "created"] == names[:len(shown) - 1 - ("created" in shown)]


def test_history_segment_option_picks_columns(shop: Path) -> None:
    ok("run")
    header = next(line for line in ok("history", "--segment", "lifecycle", "--segment", "champions").output
                  .splitlines() if "as of" in line)
    assert re.findall(r"[a-z_]+=?[a-z_]*", header.replace("as of", ""))[2:] == [
        "champions", "lifecycle=active", "lifecycle=lapsing", "lifecycle=lost"]
    assert user_error("history", "--segment", "champoins").startswith(
        "--segment: no segment 'champoins' (did you mean 'champions'?) in the runs shown; they have: ")


@pytest.mark.parametrize("columns", [50, 80])
def test_profile_fits_the_terminal(shop: Path, terminal, columns: int) -> None:
    terminal(columns)
    output = plain(ok("profile", "--metrics", "recency,frequency,monetary,aov,tenure,first_order_date").output)
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= columns
    header = next(line for line in lines if "customer_id" in line)
    shown = re.findall(r"[a-z_]+", header)
    metrics = ["first_order_date", "recency", "frequency", "monetary", "aov", "tenure"]
    assert shown[0] == "customer_id" and len(shown) >= 2
    assert set(shown) <= {"customer_id", *metrics}  # every column shown whole, none cut to "…"
    hidden = [c for c in metrics if c not in shown]
    if hidden:
        assert f"{len(hidden)} more columns: " in output

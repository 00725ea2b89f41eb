"""The ``mailchimp`` sink against a local fake of the Marketing API (tests/fakes)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from fakes.mailchimp_server import API_KEY, LIST_ID, FakeMailchimp
from segmint.errors import ConfigError, SegmintError
from segmint.plugin.host import load_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import PluginContext, RunResult, SegmentInfo
from segmint.plugins.sinks.mailchimp import MailchimpSink, is_consent, subscriber_hash
from segmint.plugins.sinks.mailchimp.client import retry_after_seconds

AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
ENV = "SEGMINT_TEST_MAILCHIMP_KEY"


def email(i: int) -> str:
    return f"customer{i}@shop.example.com"


def result(segments: dict[str, set[int]], people: range | list[int] = range(1, 11), *,
           consent: dict[int, object] | None = None,
           emails: dict[int, str | None] | None = None) -> RunResult:
    """A run's result: customers `people`, each segment's members, consent (default yes)."""
    keys = list(people)
    consent = consent or {}
    emails = emails or {}
    profiles = pa.table({
        "customer_id": keys,
        "email": [emails.get(k, email(k)) for k in keys],
        "email_consent": [consent.get(k, True) for k in keys],
    })
    membership = pa.table({"customer_id": keys,
                           **{name: [k in members for k in keys] for name, members in segments.items()}})
    infos = tuple(SegmentInfo(name, "segment") for name in segments)
    return RunResult(membership, profiles, "customer_id", AS_OF, infos)


@pytest.fixture
def fake():
    with FakeMailchimp() as server:
        yield server


@pytest.fixture
def make_sink(fake, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, API_KEY)

    def make(**options) -> MailchimpSink:
        values = {"list_id": LIST_ID, "api_key_env": ENV, "consent_column": "email_consent",
                  "base_url": fake.base_url, "retry_base_delay": 0.01, "max_retry_delay": 2.0,
                  **options}
        built = build_options(MailchimpSink.Options, values, plugin="mailchimp", where="test")
        context = PluginContext(project_dir=tmp_path, state_dir=tmp_path / ".segmint")
        return MailchimpSink("mail", built, context)

    return make


@pytest.fixture
def mailchimp_project(fake, tmp_path, monkeypatch):
    """Writes a project to run with ``segmint run`` in `tmp_path` (made the working
    directory, with the API key in its variable): a CSV source `customers` of the given
    text, a rule file `big.seg`, a ``[consent]`` line and the sink `mc` talking to `fake`,
    with `sink` as more of its lines."""

    def write(customers: str, *, rules: str = "segment big: spend > 100\n",
              consent: str = 'email = "email_consent"', sink: str = "") -> None:
        (tmp_path / "customers.csv").write_text(customers)
        (tmp_path / "big.seg").write_text(rules)
        (tmp_path / "segmint.toml").write_text("\n".join([
            'rules = ["big.seg"]',
            "[sources.customers]", 'plugin = "csv"', 'path = "customers.csv"',
            "[consent]", consent,
            "[sinks.mc]", 'plugin = "mailchimp"', f'list_id = "{LIST_ID}"',
            f'api_key_env = "{ENV}"', 'consent_column = "email_consent"',
            f'base_url = "{fake.base_url}"', sink, ""]))
        monkeypatch.setenv(ENV, API_KEY)
        monkeypatch.chdir(tmp_path)

    return write


def emails(*ids: int) -> set[str]:
    return {email(i) for i in ids}


# -- registration and options --------------------------------------------------------------


def test_registered_as_builtin_sink():
    registry = load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    assert registry.sinks["mailchimp"] is MailchimpSink


def test_data_center_from_key_suffix(make_sink):
    sink = make_sink(base_url=None)
    assert sink.base_url("0123abcd-us6") == "https://us6.api.mailchimp.com/3.0"
    with pytest.raises(ConfigError) as error:
        sink.base_url("0123456789abcdef-nope")
    assert "0123456789abcdef" not in str(error.value)
    assert "data center" in str(error.value)


def test_options_limits():
    for bad in ({"batch_size": 501}, {"max_connections": 11}, {"max_connections": 0}):
        with pytest.raises(ConfigError, match="invalid"):
            build_options(MailchimpSink.Options, {"list_id": "x", **bad}, plugin="mailchimp",
                          where="test")


def test_consent_column_required(tmp_path):
    options = build_options(MailchimpSink.Options, {"list_id": "x"}, plugin="mailchimp",
                            where="test")
    with pytest.raises(ConfigError, match="consent_column"):
        MailchimpSink("mail", options, PluginContext(project_dir=tmp_path))


def test_missing_key_is_a_config_error(make_sink, monkeypatch):
    monkeypatch.delenv(ENV)
    with pytest.raises(ConfigError, match=ENV):
        make_sink().deliver(result({"vip": {1}}))


def test_consent_values():
    assert [is_consent(v) for v in (True, 1, "yes", "TRUE", "opted_in")] == [True] * 5
    assert [is_consent(v) for v in (False, 0, None, "no", "", "maybe")] == [False] * 6


def test_retry_after_header():
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    assert 25 < retry_after_seconds(later.strftime("%a, %d %b %Y %H:%M:%S GMT")) <= 30


def test_subscriber_hash_is_md5_of_lower_case():
    # The example of Mailchimp's guide to managing subscribers.
    assert subscriber_hash("Urist.McVankab@freddiesjokes.com") == "62eeb292278cc15f5817cb78f7790b08"


# -- syncing -------------------------------------------------------------------------------


def test_tags_follow_members_entering_and_leaving(fake, make_sink):
    sink = make_sink()
    first = sink.deliver(result({"champions": {1, 2, 3}, "at_risk": {7}}))
    assert fake.tagged("champions") == emails(1, 2, 3)
    assert fake.tagged("at_risk") == emails(7)
    assert (first.added, first.removed) == (4, 0)
    assert {fake.member(email(i)).status for i in (1, 2, 3, 7)} == {"subscribed"}

    second = sink.deliver(result({"champions": {2, 3, 4}, "at_risk": set()}))
    assert fake.tagged("champions") == emails(2, 3, 4)
    assert fake.tagged("at_risk") == set()
    assert (second.added, second.removed) == (1, 2)
    # Leaving a segment takes the tag away; the contact stays in the audience.
    assert fake.member(email(1)) is not None and fake.member(email(7)) is not None

    before = len(fake.mutations())
    third = sink.deliver(result({"champions": {2, 3, 4}, "at_risk": set()}))
    assert (third.added, third.removed) == (0, 0)
    assert len(fake.mutations()) == before  # nothing unchanged is sent again
    assert fake.duplicate_tag_adds == 0


def test_segmentation_labels_become_tags_and_holdouts_never_do(fake, make_sink):
    data = result({"vip": {1, 2}})
    membership = data.membership.append_column(
        "tier", pa.array(["gold", "silver", None, "gold", None, None, None, None, None, None]))
    membership = membership.append_column("vip__holdout", pa.array([k == 3 for k in range(1, 11)]))
    infos = data.segments + (SegmentInfo("tier", "segmentation"),
                             SegmentInfo("vip__holdout", "holdout"))
    make_sink(tag_prefix="sm:").deliver(RunResult(membership, data.profiles, "customer_id",
                                                  AS_OF, infos))
    assert fake.tagged("sm:vip") == emails(1, 2)
    assert fake.tagged("sm:tier=gold") == emails(1, 4)
    assert fake.tagged("sm:tier=silver") == emails(2)
    assert not any("holdout" in name for name in fake.segments[LIST_ID].values())


def test_changed_address_moves_the_tag(fake, make_sink):
    sink = make_sink()
    sink.deliver(result({"vip": {1, 2}}))
    sink.deliver(result({"vip": {1, 2}}, emails={2: "NEW.two@shop.example.com"}))
    assert fake.tagged("vip") == {email(1), "new.two@shop.example.com"}


def test_existing_contacts_are_tagged_not_recreated(fake, make_sink):
    fake.add_member(email(1), "subscribed", tags=("newsletter",))
    make_sink().deliver(result({"vip": {1, 2}}))
    assert fake.tagged("vip") == emails(1, 2)
    assert fake.tagged("newsletter") == emails(1)
    assert [e for e in fake.journal if e[0] == "create"] == [("create", email(2), "subscribed")]


def test_batches_at_most_500_and_10_connections(fake, make_sink):
    fake.latency = 0.02
    people = range(1, 1301)
    delivery = make_sink().deliver(result({"all": set(people), "even": set(people[1::2])},
                                          people=people))
    assert delivery.added == 1300 + 650
    assert fake.tagged("all") == {email(i) for i in people}
    for request in fake.mutations():
        body = request["body"] or {}
        for field in ("members", "members_to_add", "members_to_remove"):
            assert len(body.get(field, ())) <= 500
    creates = [r for r in fake.mutations() if r["path"] == f"/3.0/lists/{LIST_ID}"]
    assert len(creates) == 3 and all(r["body"]["update_existing"] is False for r in creates)
    assert 1 < fake.max_in_flight <= 10
    assert fake.rejected_for_concurrency == 0


def test_too_many_connections_are_retried(fake, make_sink):
    fake.latency = 0.05
    fake.max_connections = 2  # the fake answers 429 beyond 2 requests in flight
    fake.concurrency_retry_after = 0.05
    people = range(1, 201)
    make_sink(batch_size=20, max_retries=30).deliver(result({"all": set(people)}, people=people))
    assert fake.rejected_for_concurrency > 0
    assert fake.tagged("all") == {email(i) for i in people}


def test_unsubscribed_and_cleaned_are_never_resubscribed(fake, make_sink):
    fake.add_member(email(1), "unsubscribed")
    fake.add_member(email(2), "cleaned")
    fake.add_member(email(3), "pending")
    sink = make_sink()
    sink.deliver(result({"vip": {1, 2, 3, 4}}))
    sink.deliver(result({"vip": {1, 2, 3, 4}, "new": {1, 2}}))
    assert [fake.member(email(i)).status for i in (1, 2, 3, 4)] == [
        "unsubscribed", "cleaned", "pending", "subscribed"]
    assert not [e for e in fake.journal if e[0] == "status"]
    # No request ever asks for an existing contact's status to change.
    for request in fake.mutations():
        body = request["body"] or {}
        assert body.get("update_existing", False) is False
        assert "status" not in body
    assert fake.tagged("vip") == emails(1, 2, 3, 4)


def test_consent_decides_who_is_created_as_subscribed(fake, make_sink):
    fake.add_member(email(5), "subscribed")
    data = result({"vip": {1, 2, 3, 4, 5}}, consent={2: False, 3: None, 4: True, 5: False})
    delivery = make_sink().deliver(data)
    assert fake.member(email(1)).status == "subscribed"
    assert fake.member(email(4)).status == "subscribed"
    assert fake.member(email(2)) is None and fake.member(email(3)) is None
    # Without consent a member is left out altogether, even one already in the audience.
    assert fake.tagged("vip") == emails(1, 4)
    assert delivery.skipped == 3
    assert any("3 members left out without consent" in m for m in getattr(delivery, "messages", ()))


def test_without_consent_transactional(fake, make_sink):
    data = result({"vip": {1, 2}}, consent={2: False})
    make_sink(without_consent="transactional").deliver(data)
    assert fake.member(email(1)).status == "subscribed"
    assert fake.member(email(2)).status == "transactional"
    assert fake.tagged("vip") == emails(1, 2)


def test_consent_withdrawn_removes_the_tag(fake, make_sink):
    sink = make_sink()
    sink.deliver(result({"vip": {1, 2}}))
    sink.deliver(result({"vip": {1, 2}}, consent={2: False}))
    assert fake.tagged("vip") == emails(1)
    assert fake.member(email(2)).status == "subscribed"  # status is never touched


def test_missing_emails_are_skipped(fake, make_sink):
    delivery = make_sink().deliver(result({"vip": {1, 2, 3}}, emails={2: None, 3: "  "}))
    assert fake.tagged("vip") == emails(1)
    assert delivery.skipped == 2


def test_hashed_addresses_are_refused(fake, make_sink):
    hashed = {i: f"{i:064x}" for i in range(1, 11)}
    with pytest.raises(ConfigError, match="SHA-256 hashes"):
        make_sink().deliver(result({"vip": {1}}, emails=hashed))
    assert fake.requests == []


def test_member_errors_are_recorded_and_not_retried(fake, make_sink, tmp_path):
    fake.compliance.add(email(2))  # archived after unsubscribing: Mailchimp refuses it
    data = result({"vip": {1, 2, 3}}, emails={3: "not-an-address"})
    sink = make_sink()
    delivery = sink.deliver(data)
    assert fake.tagged("vip") == emails(1)
    assert delivery.added == 1 and delivery.skipped == 2
    report = json.loads((tmp_path / ".segmint" / "sinks" / "mail" / "report.json").read_text())
    remembered = json.loads((tmp_path / ".segmint" / "sinks" / "mail" / "failed.json").read_text())
    assert set(remembered) == {email(2), "not-an-address"}
    failures = {f["email"]: f["error"] for f in report["failures"]}
    assert set(failures) == {email(2), "not-an-address"}
    assert "compliance state" in failures[email(2)]
    assert "invalid" in failures["not-an-address"]

    before = len(fake.requests)
    again = sink.deliver(data)
    assert len(fake.requests) == before  # the refused members are not sent again
    assert again.skipped == 2
    assert any("refused in an earlier run" in m for m in getattr(again, "messages", ()))

    fake.compliance.clear()
    make_sink(retry_failed=True).deliver(data)
    assert fake.tagged("vip") == emails(1, 2)
    remembered = json.loads((tmp_path / ".segmint" / "sinks" / "mail" / "failed.json").read_text())
    assert set(remembered) == {"not-an-address"}


def test_dry_run_sends_nothing(fake, make_sink, monkeypatch):
    sink = make_sink()
    sink.deliver(result({"vip": {1, 2}}))
    before = len(fake.requests)
    monkeypatch.delenv(ENV)  # a dry run needs no key
    delivery = sink.deliver(result({"vip": {2, 3, 4}}), dry_run=True)
    assert len(fake.requests) == before
    assert (delivery.added, delivery.removed, delivery.dry_run) == (2, 1, True)
    assert fake.tagged("vip") == emails(1, 2)
    assert any("'vip': 2 to add, 1 to remove" in m for m in getattr(delivery, "messages", ()))


# -- faults --------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(fake, make_sink):
    fake.inject("429", match=f"POST /3.0/lists/{LIST_ID}/segments/", retry_after=1)
    make_sink(max_connections=1).deliver(result({"vip": {1, 2}}))
    assert fake.tagged("vip") == emails(1, 2)
    tags = [r for r in fake.requests if "/segments/" in r["path"]]
    assert [r["status"] for r in tags] == [429, 200]
    assert tags[1]["time"] - tags[0]["time"] >= 0.95


def test_500_and_503_are_retried(fake, make_sink):
    fake.inject("500", match=f"POST /3.0/lists/{LIST_ID}", times=2)
    fake.inject("503", match="/segments/")
    make_sink().deliver(result({"vip": {1, 2}}))
    assert fake.tagged("vip") == emails(1, 2)
    assert [r["status"] for r in fake.requests].count(500) == 2


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
def test_dropped_connections_are_retried(fake, make_sink, kind):
    fake.inject(kind, match="POST", times=2)
    make_sink().deliver(result({"vip": {1, 2, 3}}))
    assert fake.tagged("vip") == emails(1, 2, 3)
    assert len([e for e in fake.journal if e[0] == "create"]) == 3


def test_retries_give_up_and_keep_what_was_confirmed(fake, make_sink, tmp_path):
    fake.inject("500", match="/segments/", times=1000)
    sink = make_sink(max_retries=2)
    with pytest.raises(SegmintError, match="failed after 3 attempts"):
        sink.deliver(result({"vip": {1, 2}}))
    assert fake.tagged("vip") == set()
    fake.faults.clear()
    delivery = sink.deliver(result({"vip": {1, 2}}))
    assert fake.tagged("vip") == emails(1, 2)
    assert any("sent again" in m for m in delivery.messages)  # the unconfirmed batch
    assert sorted(e[1] for e in fake.journal if e[0] == "create") == sorted(emails(1, 2))


def test_wrong_key_is_refused_without_showing_it(fake, make_sink, monkeypatch):
    wrong = "ffffffffffffffffffffffffffffffff-us6"
    monkeypatch.setenv(ENV, wrong)
    with pytest.raises(SegmintError) as error:
        make_sink().deliver(result({"vip": {1}}))
    assert "401 API Key Invalid" in str(error.value)
    assert wrong not in str(error.value) and "ffffffff" not in str(error.value)


def test_unknown_audience(fake, make_sink):
    with pytest.raises(SegmintError, match="404 Resource Not Found"):
        make_sink(list_id="nope").deliver(result({"vip": {1}}))


def test_key_never_in_output_logs_or_state(fake, make_sink, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    fake.inject("429", retry_after=0.1)
    fake.inject("500", match="/segments")
    fake.inject("drop", match="POST")
    fake.compliance.add(email(2))
    sink = make_sink()
    sink.deliver(result({"vip": {1, 2, 3}}))
    sink.deliver(result({"vip": {3}}), dry_run=True)
    secret = API_KEY.split("-")[0]
    out = capsys.readouterr()
    assert caplog.records  # the retries were logged
    for text in (out.out, out.err, caplog.text):
        assert secret not in text
    files = [p for p in (tmp_path / ".segmint").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes()


# -- through segmint run ----------------------------------------------------------------------


def test_segmint_run_syncs_and_never_shows_the_key(fake, tmp_path, mailchimp_project):
    from click.testing import CliRunner

    from segmint.cli import cli

    mailchimp_project(
        "customer_id,email,email_consent,spend\n"
        "1,Ann@Shop.Example.com,true,500\n"
        "2,bob@shop.example.com,false,900\n"
        "3,cy@shop.example.com,true,20\n"
        "4,,true,800\n",
        sink='purpose = "email"')
    dry = CliRunner().invoke(cli, ["run", "--dry-run"], prog_name="segmint")
    assert dry.exit_code == 0, dry.output
    assert fake.requests == []
    run = CliRunner().invoke(cli, ["run"], prog_name="segmint")
    assert run.exit_code == 0, run.output
    assert fake.tagged("big") == {"ann@shop.example.com"}
    assert fake.member("ann@shop.example.com").email == "Ann@Shop.Example.com"
    assert "sink mc: 1 added" in run.output
    for text in (dry.output, run.output):
        assert API_KEY.split("-")[0] not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert API_KEY.split("-")[0].encode() not in path.read_bytes()


# -- a process killed mid-sync ---------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import datetime as dt, json, sys
    import pyarrow as pa
    from segmint.plugin.options import build_options
    from segmint.plugin.api import PluginContext, RunResult, SegmentInfo
    from segmint.plugins.sinks.mailchimp import MailchimpSink

    config = json.loads(sys.argv[1])
    people = config["people"]
    profiles = pa.table({"customer_id": people,
                         "email": [f"customer{i}@shop.example.com" for i in people],
                         "email_consent": [True] * len(people)})
    membership = pa.table({"customer_id": people,
                           **{n: [i in set(m) for i in people] for n, m in config["segments"].items()}})
    infos = tuple(SegmentInfo(n, "segment") for n in config["segments"])
    result = RunResult(membership, profiles, "customer_id",
                       dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), infos)
    options = build_options(MailchimpSink.Options, config["options"], plugin="mailchimp",
                            where="test")
    sink = MailchimpSink("mail", options, PluginContext(project_dir=__import__("pathlib").Path(
        config["project"]), state_dir=__import__("pathlib").Path(config["project"]) / ".segmint"))
    delivery = sink.deliver(result)
    print(json.dumps({"added": delivery.added, "removed": delivery.removed}))
""")


def _run_child(fake: FakeMailchimp, project: Path, segments: dict[str, list[int]],
               people: list[int], kill_after: int | None = None, **options) -> subprocess.CompletedProcess:
    config = {
        "project": str(project), "people": people, "segments": segments,
        "options": {"list_id": LIST_ID, "api_key_env": ENV, "consent_column": "email_consent",
                    "base_url": fake.base_url, "retry_base_delay": 0.01, **options},
    }
    env = {**os.environ, ENV: API_KEY}
    process = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if kill_after is not None:
        fake.kill_client_after(kill_after, lambda: process.pid)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("kill_after", [0, 3, 7])
def test_killed_mid_sync_then_rerun_finishes_without_duplicates(fake, tmp_path, kill_after):
    people = list(range(1, 601))
    segments = {"vip": people[:450], "even": people[1::2]}
    first = _run_child(fake, tmp_path, {"vip": people[:300]}, people, max_connections=1,
                       batch_size=100)
    assert first.returncode == 0, first.stderr
    killed = _run_child(fake, tmp_path, segments, people, kill_after=kill_after,
                        max_connections=1, batch_size=100)
    assert killed.returncode == -9 and fake.killed
    assert fake.tagged("vip") != set(map(email, segments["vip"])) or \
        fake.tagged("even") != set(map(email, segments["even"]))
    rerun = _run_child(fake, tmp_path, segments, people, max_connections=1, batch_size=100)
    assert rerun.returncode == 0, rerun.stderr
    assert fake.tagged("vip") == set(map(email, segments["vip"]))
    assert fake.tagged("even") == set(map(email, segments["even"]))
    assert fake.duplicate_tag_adds == 0
    creates = [e[1] for e in fake.journal if e[0] == "create"]
    assert len(creates) == len(set(creates)) == len(set(segments["vip"]) | set(segments["even"]))
    for run in (first, killed, rerun):
        assert API_KEY.split("-")[0] not in run.stdout + run.stderr


def test_killed_while_requests_run_in_parallel(fake, tmp_path):
    """With 10 requests in flight a kill can lose the answers to batches Mailchimp applied;
    the rerun sends those again (tag adds are idempotent) and the end state is right."""
    fake.latency = 0.02
    people = list(range(1, 2001))
    segments = {"vip": people[:1500], "odd": people[::2]}
    killed = _run_child(fake, tmp_path, segments, people, kill_after=12, batch_size=100)
    assert killed.returncode == -9
    rerun = _run_child(fake, tmp_path, segments, people, batch_size=100)
    assert rerun.returncode == 0, rerun.stderr
    assert fake.tagged("vip") == set(map(email, segments["vip"]))
    assert fake.tagged("odd") == set(map(email, segments["odd"]))
    assert fake.duplicate_tag_adds <= 9 * 100  # at most the batches in flight at the kill
    creates = [e[1] for e in fake.journal if e[0] == "create"]
    assert len(set(creates)) == len(set(segments["vip"]) | set(segments["odd"]))


@pytest.mark.parametrize("purpose", [None, "column", "segment"])
def test_shared_address_needs_every_profiles_consent(fake, mailchimp_project, purpose):
    """Two profiles share an address, one with consent and one without: the address is
    neither created as subscribed nor tagged, whether consent is the sink's own column, a
    ``purpose`` backed by a column, or a ``purpose`` backed by a segment."""
    from click.testing import CliRunner

    from segmint.cli import cli

    rules = "segment big: spend > 100\n"
    consent = 'email = "email_consent"'
    if purpose == "segment":
        rules += "segment agreed: email_consent == true\n"
        consent = 'email = "agreed"'
    sink_purpose = 'purpose = "email"\n' if purpose else ""
    mailchimp_project(
        "customer_id,email,email_consent,spend\n"
        "1,Ann@Shop.Example.com,true,500\n"
        "2, ann@shop.example.com ,false,900\n"
        "3,cy@shop.example.com,true,200\n",
        rules=rules, consent=consent, sink=sink_purpose + 'segments = ["big"]')
    run = CliRunner().invoke(cli, ["run"], prog_name="segmint")
    assert run.exit_code == 0, run.output
    assert fake.member("ann@shop.example.com") is None
    assert fake.tagged("big") == {"cy@shop.example.com"}
    assert fake.member("cy@shop.example.com").status == "subscribed"

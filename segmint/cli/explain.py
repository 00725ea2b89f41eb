"""`segmint explain`: why one customer is in or out of a segment."""

from __future__ import annotations

import attrs
import click
import pyarrow as pa
from rich.tree import Tree

from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.arrow.explain import Explanation, Step, explain, format_value, matching_counts
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.identity import normalize, policy_of
from segmint.project.pipeline import Prepared, execute, prepare
from segmint.cli.common import DelayedStatus, stdout_console, with_project

_MARK = {True: "[green]true[/]", False: "[red]false[/]", None: "[yellow]null[/]"}


@click.command("explain")
@with_project
@click.option("--segment", "segment", required=True, help="The segment or segmentation to explain.")
@click.option("--id", "customer", required=True, help="The customer's key.")
def command(project: Project, registry: PluginRegistry, segment: str, customer: str) -> None:
    """Show every sub-condition of a segment for one customer, with their values."""
    with DelayedStatus() as status:
        prepared = prepare(project, registry)
        if not isinstance(prepared.engine, ArrowEngine):  # the trace is the arrow engine's
            prepared = attrs.evolve(prepared, engine=ArrowEngine())
        # each aggregate's count of events too, to show how many it saw
        prepared = attrs.evolve(prepared, checked=matching_counts(prepared.checked, segment))
        outcome = execute(prepared, progress=status.update)
    result = explain(outcome.evaluation, prepared.rules, segment, sources_key(prepared, customer),
                     project.key)
    stdout_console().print(render(result))


def sources_key(prepared: Prepared, customer: str) -> str:
    """`--id` as the run holds keys: normalised as the profile sources normalise theirs
    (``key_normalize``), so an address pasted from a mail client ("  User7@Example.com")
    finds its customer."""
    for source in prepared.profile_sources.values():
        policy = policy_of(source)
        if policy.key_normalize:
            found = normalize(pa.array([customer], pa.string()), policy.key_normalize,
                              policy.phone_country_code)[0].as_py()
            return customer if found is None else found
    return customer


def render(result: Explanation) -> Tree:
    if result.kind == "segment":
        verdict = "IN" if result.result else "NOT IN"
        head = f"customer {result.key} is [bold]{verdict}[/] segment [bold]{result.statement}[/]"
        if result.held_out:
            head += " (held out: a member of the control group, not targeted)"
    else:
        label = result.result if result.result is not None else "no label (null)"
        head = f"customer {result.key} in segmentation [bold]{result.statement}[/]: [bold]{label}[/]"
    tree = Tree(head)
    for step in result.steps:
        _add(tree, step)
    return tree


def _add(parent: Tree, step: Step) -> None:
    line = f"{step.text}  → {_MARK[step.value]}"
    if step.inputs:
        line += "   [dim](" + ", ".join(f"{name} = {format_value(v)}" for name, v in step.inputs) + ")[/]"
    if step.note:
        line += f"   [dim]{step.note}[/]"
    branch = parent.add(line)
    for child in step.children:
        _add(branch, child)

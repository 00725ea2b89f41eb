"""The report in the terminal: the headline table, the warnings, the measured holdouts."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from segmint.report.model import Report
from segmint.report.presentation import text


def show(report: Report, console: Console) -> None:
    console.print(text.title(report))
    console.print(text.subtitle(report))
    table = Table()
    for i, column in enumerate(text.HEADLINE):
        table.add_column(column, justify="left" if i in (0, len(text.HEADLINE) - 1) else "right")
    for segment in report.segments:
        table.add_row(*text.headline(segment))
    console.print(table)
    effects = text.effect_rows(report)
    if effects:
        lift = Table(title="holdouts")
        for column in ("segment", "treatment", "holdout", "lift [95%]", "p", "verdict"):
            lift.add_column(column)
        for row in effects:
            lift.add_row(*row)
        console.print(lift)
    for warning in report.warnings:
        console.print(f"warning [{warning.code}]: {warning.message}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)

"""The report as Markdown, for a pull request or a wiki page."""

from __future__ import annotations

from collections.abc import Sequence

from segmint.report.model import Report
from segmint.report.presentation import text


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def render(report: Report) -> str:
    lines = [f"# {text.title(report)}", "", text.subtitle(report) + ".", "", "## Segments", ""]
    lines += table(text.HEADLINE, [text.headline(s) for s in report.segments])
    if report.warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- **{w.code}** ({', '.join(w.segments) or 'all segments'}): {w.message}"
                  for w in report.warnings]
    effects = text.effect_rows(report)
    if effects:
        lines += ["", "## Holdouts", ""]
        lines += table(("segment", "treatment", "holdout", "lift [95%]", "p", "verdict"), effects)
        for s in report.segments:
            if s.effectiveness is not None:
                lines.append(f"\n- **{s.id}**: {s.effectiveness.verdict}: {s.effectiveness.summary}.")
    lines += ["", "## Personas", ""]
    lines += [f"- {s.persona.card}" for s in report.segments]
    overlapping = sorted((o for o in report.overlap if o.both),
                         key=lambda o: (-(o.jaccard or 0.0), o.a, o.b))[:15]
    if overlapping:
        lines += ["", "## Overlap (the most similar pairs)", ""]
        lines += table(("a", "b", "both", "Jaccard", "a in b", "b in a"),
                       [(o.a, o.b, text.count(o.both), text.ratio(o.jaccard), text.share(o.a_in_b),
                         text.share(o.b_in_a)) for o in overlapping])
    for m in report.migration:
        lines += ["", f"## Migration: {m.segmentation}", "", "From the compared run (rows) to this run (columns).", ""]
        lines += table(("from \\ to", *m.labels_to),
                       [(label, *(text.count(c) for c in row)) for label, row in zip(m.labels_from, m.counts, strict=True)])
    if report.history:
        names = [s.id for s in report.segments]
        lines += ["", "## History", ""]
        lines += table(("run", "as of", *names),
                       [(h.run_id, h.as_of[:10], *(text.count(h.counts.get(n)) for n in names))
                        for h in report.history])
    for note in report.notes:
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"

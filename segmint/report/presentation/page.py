"""The report as one self-contained HTML page: styles, the one small script and every chart
(inline SVG, see `svg`) are in the file, so it opens offline, sends no request, and prints."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from segmint.version import __version__
from segmint.report.model import Report
from segmint.report.presentation import svg, text

STYLE = """
:root { color-scheme: light; --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.sub, .note { color: var(--muted); margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td.text { text-align: left; white-space: normal; }
th { background: #f7fafc; cursor: pointer; user-select: none; }
.warning { border-left: 4px solid #dd6b20; background: #fffaf0; padding: 6px 10px; margin: 6px 0; }
.warning code { font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; break-inside: avoid; }
.card h3 { font-size: 14px; margin: 0 0 4px; } .card p { margin: 0; color: var(--muted); }
.chart { overflow-x: auto; margin: 8px 0; } svg { max-width: 100%; height: auto; }
.verdict { font-weight: 600; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } th { cursor: default; }
  h2 { break-after: avoid; } .chart, table, .card { break-inside: avoid; } }
"""

#: Click a column header to sort the table by it; marks the page ready for tests.
SCRIPT = """
(function () {
  function key(cell) {
    var t = cell.textContent.replace(/[,%\\s]|pts/g, "");
    var n = parseFloat(t.replace(/^\\+/, ""));
    return isNaN(n) ? cell.textContent : n;
  }
  document.querySelectorAll("table.sortable th").forEach(function (th, index) {
    th.addEventListener("click", function () {
      var body = th.closest("table").tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var up = th.dataset.order !== "asc";
      rows.sort(function (a, b) {
        var x = key(a.cells[index]), y = key(b.cells[index]);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      th.dataset.order = up ? "asc" : "desc";
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  document.body.dataset.ready = "yes";
})();
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, sortable: bool = False,
           text_columns: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=text" if j in text_columns else ""}>{escape(str(v))}</td>'
                         for j, v in enumerate(row)) + "</tr>" for row in rows)
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: Report) -> str:
    parts = [f"<h1>{escape(text.title(report))}</h1>", f'<p class="sub">{escape(text.subtitle(report))}</p>']
    parts += [f'<p class="note">{escape(note)}</p>' for note in report.notes]
    if report.warnings:
        parts.append("<h2>Warnings</h2>")
        parts += [f'<div class="warning"><code>{escape(w.code)}</code> {escape(w.message)}</div>'
                  for w in report.warnings]
    parts.append("<h2>Segments</h2>")
    parts.append(_table(text.HEADLINE, [text.headline(s) for s in report.segments], sortable=True,
                        text_columns=(len(text.HEADLINE) - 1,)))
    parts += _sizes(report) + _effects(report) + _history(report) + _overlap(report)
    parts += _migration(report) + _personas(report)
    body = "\n".join(parts)
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            '<link rel="icon" href="data:,">'
            f"<title>{escape(text.title(report))}</title><style>{STYLE}</style></head>\n"
            f"<body>\n{body}\n<footer>segmint {escape(__version__)}: every number is defined in "
            "docs/report.md.</footer>\n"
            f"<script>{SCRIPT}</script>\n</body></html>\n")


def _chart(markup: str) -> str:
    return f'<div class="chart">{markup}</div>'


def _sizes(report: Report) -> list[str]:
    segments = report.segments
    series = [("share of customers", [s.share or 0.0 for s in segments])]
    if report.revenue is not None:
        series.append(("share of revenue", [s.revenue_share or 0.0 for s in segments]))
    return ["<h2>Size and value</h2>",
            _chart(svg.grouped_bars([s.id for s in segments], series,
                                    label="share of customers and of revenue per segment"))]


def _effects(report: Report) -> list[str]:
    measured = [s for s in report.segments if s.effectiveness is not None]
    if not measured:
        return []
    parts = ["<h2>Did targeting work? Treatment against holdout</h2>"]
    rows = [(s.id, s.effectiveness.lift.absolute, s.effectiveness.lift.absolute_low,
             s.effectiveness.lift.absolute_high) for s in measured
            if s.effectiveness.lift.absolute is not None]
    if rows:
        parts.append(_chart(svg.intervals(rows, label="lift in conversion rate with its 95% interval")))
    parts.append(_table(("segment", "treatment", "holdout", "lift [95%]", "p", "verdict"),
                        text.effect_rows(report)))
    for s in measured:
        e = s.effectiveness
        lift = e.lift
        extra = []
        if lift.relative is not None:
            low = "–" if lift.relative_low is None else f"{lift.relative_low:+.0%}"
            high = "–" if lift.relative_high is None else f"{lift.relative_high:+.0%}"
            extra.append(f"relative lift {lift.relative:+.0%} [{low}, {high}]")
        if lift.incremental_conversions is not None:
            extra.append(f"incremental conversions {lift.incremental_conversions:+,.1f}")
        if lift.incremental_revenue is not None:
            extra.append(f"incremental revenue {lift.incremental_revenue:+,.2f}")
        if lift.roi is not None:
            extra.append(f"ROI {lift.roi:+.0%} on a cost of {lift.cost:,.2f}")
        if e.minimum_detectable_effect is not None:
            extra.append(f"minimum detectable effect {e.minimum_detectable_effect * 100:.1f} points")
        parts.append(f'<p><b>{escape(s.id)}</b> ({escape(e.outcomes)}, {escape(e.window)} window): '
                     f'<span class="verdict">{escape(e.verdict)}</span>: {escape(e.summary)}. '
                     f'{escape("; ".join(extra))}.</p>')
    return parts


def _history(report: Report) -> list[str]:
    if len(report.history) < 2:
        return []
    ids = [s.id for s in report.segments]
    series = [(name, [h.counts.get(name) for h in report.history]) for name in ids]
    series = [(n, vs) for n, vs in series if any(v is not None for v in vs)]
    labels = [h.as_of[:10] for h in report.history]
    return ["<h2>Size over time</h2>", '<p class="note">Members in every stored run (by as_of).</p>',
            _chart(svg.lines(labels, series, label="members per segment in each stored run"))]


def _overlap(report: Report) -> list[str]:
    ids = [s.id for s in report.segments]
    if len(ids) < 2:
        return []
    jaccard = {(o.a, o.b): o.jaccard for o in report.overlap}
    jaccard.update({(b, a): v for (a, b), v in list(jaccard.items())})
    values = [[1.0 if a == b else jaccard.get((a, b)) for b in ids] for a in ids]
    texts = [["" if v is None else f"{v:.2f}" for v in row] for row in values]
    return ["<h2>Overlap</h2>",
            '<p class="note">Jaccard index: members in both / members in either. Labels of one '
            "segmentation never overlap and are left blank.</p>",
            _chart(svg.heatmap(ids, ids, values, texts, label="overlap between segments (Jaccard)"))]


def _migration(report: Report) -> list[str]:
    parts = []
    for m in report.migration:
        totals = [sum(row) or 1 for row in m.counts]
        values = [[c / total for c in row] for row, total in zip(m.counts, totals, strict=True)]
        texts = [[f"{c:,}" for c in row] for row in m.counts]
        parts += [f"<h2>Migration: {escape(m.segmentation)}</h2>",
                  '<p class="note">Customers by label in the compared run (rows) and in this run '
                  "(columns); shading is the row's share.</p>",
                  _chart(svg.heatmap(list(m.labels_from), list(m.labels_to), values, texts,
                                     label=f"migration between labels of {m.segmentation}",
                                     color="56,161,105"))]
    return parts


def _personas(report: Report) -> list[str]:
    cards = []
    for s in report.segments:
        head, _, traits = s.persona.card.partition(": ")
        cards.append(f'<div class="card"><h3>{escape(head)}</h3><p>{escape(traits)}</p></div>')
    return ["<h2>Personas</h2>", '<p class="note">What sets each segment apart from the whole base: '
            "numeric columns by standardized mean difference, levels by lift where its 95% Wilson "
            "interval excludes 1.</p>", f'<div class="cards">{"".join(cards)}</div>']

"""`segmint report`: what each segment is worth, who is in it, whether targeting it worked.

The report is computed as data first (`model`, built by `build.build_report` from a stored
run: `value`, `overlap`, `changes`, `personas`, `effectiveness`, `warnings`), then drawn by
one of the flavours in `presentation`: the terminal, JSON, Markdown or a self-contained HTML
page. docs/report.md defines every number.
"""

from __future__ import annotations

import os
from pathlib import Path

from segmint.errors import SegmintError
from segmint.report.build import ReportRequest, build_report
from segmint.report.model import Report

FLAVOURS = (".html", ".json", ".md")

__all__ = ["FLAVOURS", "Report", "ReportRequest", "build_report", "render", "write_report"]


def render(report: Report, suffix: str) -> str:
    """The report as the text of a file ending in `suffix` (.html, .json or .md)."""
    from segmint.report.presentation import document, markdown, page

    renderers = {".html": page.render, ".json": document.render, ".md": markdown.render}
    if suffix not in renderers:
        raise SegmintError(f"--out: a report is written as {', '.join(FLAVOURS)}, not '{suffix or 'no suffix'}'")
    return renderers[suffix](report)


def write_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report to `path`, its flavour chosen by the file name's ending."""
    from segmint.delivery.atomic import atomic_write

    target = Path(path)
    content = render(report, target.suffix.lower())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as temp:
            temp.write_text(content, encoding="utf-8")
    except OSError as error:
        raise SegmintError(f"--out: cannot write {target}: {error.strerror or error}") from None
    return target

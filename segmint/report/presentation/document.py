"""The report as JSON: `Report.to_dict`, indented, keys in the model's order."""

from __future__ import annotations

import json

from segmint.report.model import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"

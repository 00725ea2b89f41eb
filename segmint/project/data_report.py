"""What a run found in its data, per source: rows read, duplicate keys resolved, keys that
mapped or matched nothing, rows quarantined. `segmint run` prints it; sinks may read it."""

from __future__ import annotations

from pathlib import Path

import attrs

from segmint.plugin.api import BadRow


@attrs.define
class SourceReport:
    """The counts of one source."""

    source: str
    role: str
    rows: int = 0
    #: Rows dropped because another row had the same key (``on_duplicate_keys = "latest"``).
    duplicates: int = 0
    #: Rows whose key had no entry in the source's identity table (left out).
    unmapped: int = 0
    #: Keys found in no other profile source (profiles), or in no profile (events);
    #: None when there was nothing to match against.
    unmatched: int | None = None
    bad_rows: list[BadRow] = attrs.field(factory=list)
    quarantine_file: Path | None = None

    @property
    def quarantined(self) -> int:
        return len(self.bad_rows)


@attrs.define
class DataReport:
    """The per-source reports of one run, in the order sources were read."""

    sources: dict[str, SourceReport] = attrs.field(factory=dict)

    def source(self, name: str, role: str) -> SourceReport:
        if name not in self.sources:
            self.sources[name] = SourceReport(name, role)
        return self.sources[name]

    def lines(self) -> list[str]:
        """One line per source with something to report, for the run's output."""
        out = []
        for report in self.sources.values():
            if not (report.duplicates or report.unmapped or report.unmatched or report.bad_rows):
                continue
            parts = [f"{report.rows:,} rows"]
            if report.duplicates:
                parts.append(f"{report.duplicates:,} duplicate keys resolved")
            if report.unmapped:
                parts.append(f"{report.unmapped:,} keys not in the identity table")
            if report.unmatched is not None:
                parts.append(f"{report.unmatched:,} keys in no other profile source" if report.role == "profiles"
                             else f"{report.unmatched:,} keys with no profile (left out)")
            if report.bad_rows:
                where = f" → {report.quarantine_file}" if report.quarantine_file else ""
                parts.append(f"{report.quarantined:,} bad rows quarantined{where}")
            out.append(f"source {report.source}: {', '.join(parts)}")
        return out

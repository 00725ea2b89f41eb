"""Renderers of a `Report` (ydata-profiling's "presentation" half): one model, several
flavours: the terminal (rich), JSON, Markdown and a self-contained HTML page."""

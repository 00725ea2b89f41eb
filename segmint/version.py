"""segmint's version, in one place (the package, run metadata and `--version` read it)."""

__version__ = "0.1.0"

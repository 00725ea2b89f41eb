"""Settings for the whole test session."""

import os

# Load only segmint's own plugins (its built-ins), whatever else is installed here.
os.environ.setdefault("SEGMINT_PLUGINS", "segmint")

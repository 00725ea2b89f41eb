"""Settings for the whole test session."""

import os

# Load only segmint's own plugins (its built-ins), whatever else is installed here.
os.environ.setdefault("SEGMINT_PLUGINS", "segmint")

# Hypothesis profiles: "ci" runs the property tests hard, "dev" keeps local runs quick.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=500, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

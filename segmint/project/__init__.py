"""The project: segmint.toml, identity (key normalisation), and the run pipeline."""

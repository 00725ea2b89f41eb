"""Built-in plugins, found through the same ``segmint`` entry-point group as third-party ones."""

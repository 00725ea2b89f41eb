"""What the language means, engine-neutral and written once: as-of instants, the holdout hash, and the plan every engine follows."""

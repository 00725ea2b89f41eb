"""Getting results out: snapshots, diff syncs with their journal, consent and hashing, atomic files."""

"""Rule-file globs (``rules/**/*.seg``) expanded without following a symlink loop forever.

Python's ``glob`` follows links to directories under ``**`` and has no guard against a link
to a parent: it descends until paths grow too long, doubling with every second link. Here a
``**`` pattern walks the tree once, entering each real directory once.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence


def expand(pattern: str) -> list[str]:
    """The files `pattern` (an absolute glob) matches, sorted, as ``glob`` would name them."""
    parts = pattern.split(os.sep)
    if "**" not in parts:
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    base = os.sep.join(parts[:fixed]) or os.sep
    wanted = parts[fixed:]
    found = []
    seen: set[tuple[int, int]] = set()
    for directory, subdirectories, files in os.walk(base, followlinks=True):
        stat = os.stat(directory)
        if (stat.st_dev, stat.st_ino) in seen:
            subdirectories[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        relative = os.path.relpath(directory, base)
        prefix = [] if relative == "." else relative.split(os.sep)
        found += [os.path.join(directory, name) for name in files
                  if _matches([*prefix, name], wanted) and os.path.isfile(os.path.join(directory, name))]
    return sorted(found)


def _matches(parts: Sequence[str], pattern: Sequence[str]) -> bool:
    """Whether path components match pattern components, ``**`` standing for any number of
    directories; as in ``glob``, a name starting with ``.`` is matched only explicitly."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return _matches(parts, pattern[1:]) or (
            bool(parts) and not parts[0].startswith(".") and _matches(parts[1:], pattern))
    if not parts:
        return False
    name, wanted = parts[0], pattern[0]
    if name.startswith(".") and not wanted.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, wanted) and _matches(parts[1:], pattern[1:])

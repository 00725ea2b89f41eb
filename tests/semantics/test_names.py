"""The one "did you mean" (semantics/names.py), as every message that suggests a name asks it."""

from __future__ import annotations

import pytest

from segmint.semantics.names import closest, did_you_mean, name_hint

KNOWN = ["recency", "frequency", "monetary", "Country", "country_code"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("recncy", "recency"),  # a typo
        ("frequncy", "frequency"),
        ("country", "Country"),  # names are case-sensitive: the same name in another case first
        ("monetry", "monetary"),
        ("zzz", None),  # nothing close
        ("", None),
    ],
)
def test_closest(word: str, expected: str | None) -> None:
    assert closest(word, KNOWN) == expected


def test_did_you_mean_is_written_after_the_unknown_name() -> None:
    assert did_you_mean("recncy", KNOWN) == " (did you mean 'recency'?)"
    assert did_you_mean("zzz", KNOWN) == ""
    assert did_you_mean("x", iter(["y"])) == ""  # any iterable of names


def test_name_hint_is_the_same_words_on_their_own() -> None:
    """The rules checker's hint line and the inline suggestion say the same thing."""
    assert name_hint("recncy", KNOWN) == "did you mean 'recency'?"
    assert name_hint("zzz", KNOWN) is None
    assert did_you_mean("recncy", KNOWN) == f" ({name_hint('recncy', KNOWN)})"


def test_every_suggestion_in_the_package_comes_from_it() -> None:
    """No module but semantics/names.py asks difflib for a close name."""
    from pathlib import Path

    import segmint

    root = Path(segmint.__file__).parent
    users = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if "difflib" in p.read_text()]
    assert users == ["semantics/names.py"]
    phrased = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
               if "did you mean '" in p.read_text()]
    assert phrased == ["semantics/names.py"]

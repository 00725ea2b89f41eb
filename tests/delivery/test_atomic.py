"""Atomic replacement: a reader sees the old file or the whole new one, never half."""

from __future__ import annotations

import os
import stat

import pytest

from segmint.delivery.atomic import atomic_write


def test_writes_a_new_file(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as temp:
        assert temp.parent == tmp_path and temp != target
        temp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_replaces_an_existing_file_keeping_its_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_write(str(target)) as temp:
        temp.write_text("new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_an_error_mid_write_leaves_the_old_file_and_no_temp(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_write(target) as temp:
            temp.write_text("half of the new")
            raise error
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_an_error_before_the_first_write_creates_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target):
            raise RuntimeError("no data")
    assert os.listdir(tmp_path) == []


def test_the_writer_may_replace_the_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as temp:
        temp.unlink()
        temp.write_text("rewritten")
    assert target.read_text() == "rewritten"

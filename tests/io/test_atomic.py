"""Atomic writes: all or nothing, and files other people can read as a plain write allows."""

from __future__ import annotations

import os
import stat

import pytest

from sdhealth.io.atomic import write_text_atomic, write_with


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_mode_a_plain_write_gives(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "results.csv", "a,b\n")
        plain = tmp_path / "plain.csv"
        plain.write_text("a,b\n")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "results.csv") == _mode(plain) == 0o644  # not the temp file's 0o600


def test_a_replaced_file_keeps_its_mode(tmp_path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("good")

    def failing(path) -> None:
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_with(target, failing)
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path) -> None:
    """SIGKILL mid-write: the old file is untouched, nothing half-written under its name."""
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "results.csv"
    target.write_text("time,x\n0,1\n", encoding="utf-8")
    started = tmp_path / "started"
    script = (
        "import sys, pathlib\n"
        "from sdhealth.io.atomic import atomic_path\n"
        "target, started = map(pathlib.Path, sys.argv[1:3])\n"
        "with atomic_path(target) as tmp:\n"
        "    with open(tmp, 'w') as out:\n"
        "        out.write('time,x\\n' + '0,2\\n' * 100000)\n"
        "        out.flush()\n"
        "        started.write_text('yes')\n"
        "        while True:\n"
        "            out.write('1,2\\n' * 1000)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(target), str(started)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert writer.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.02)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert target.read_text(encoding="utf-8") == "time,x\n0,1\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("results.csv")) == [
        "results.csv"
    ]

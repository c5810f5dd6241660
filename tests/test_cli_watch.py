"""``sdhealth run MODEL --watch``: runs again on save, survives a bad edit, stops on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")


class _Lines:
    """The output of a process, line by line, read on a thread (so waits can time out)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} within {timeout} s; output:\n{''.join(self.seen)}")


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    later = time.time() + 1  # a new modification time even on coarse clocks
    os.utime(path, (later, later))


def test_watch_runs_again_on_save_and_keeps_watching_after_a_bad_edit(models_dir, tmp_path):
    model = tmp_path / "teacup.yaml"
    original = (models_dir / "teacup.yaml").read_text(encoding="utf-8")
    model.write_text(original, encoding="utf-8")
    env = {**os.environ, "SDHEALTH_WATCH_INTERVAL": "0.05"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sdhealth", "run", str(model), "--no-loops", "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        out = _Lines(process)
        first = out.wait_for("Teacup Temperature")
        out.wait_for("watching")
        assert first.split()[-1] == "75.37"  # 70 + 110 (1 - 0.125/10)^240, Euler
        _save(model, original.replace("value: 10\n", "value: 5\n", 1))
        out.wait_for("changed: running again")
        again = out.wait_for("Teacup Temperature")
        assert again.split()[-1] == "70.25"  # 70 + 110 (1 - 0.125/5)^240, a 5-minute time
        out.wait_for("watching")
        _save(model, original.replace("(Teacup Temperature - Room", "(Teacup Temperature -- (", 1))
        error = out.wait_for("teacup.yaml:")
        assert ":29:" in error and "Traceback" not in "".join(out.seen)
        out.wait_for("watching")
        process.send_signal(signal.SIGINT)
        out.wait_for("stopped watching")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()

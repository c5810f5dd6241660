"""``sdhealth serve`` as a user starts it: a real server on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sdhealth.cli import main

MODELS = Path(__file__).parents[2] / "models"


def test_serve_prints_its_address_and_answers_there(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "sdhealth", "serve", str(MODELS / "teacup.yaml"), "--port", "0",
         "--save-to", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert "sdhealth workbench for" in line and "http://127.0.0.1:" in line, line
        url = line.split()[-1]
        described = httpx.get(f"{url}api/model", timeout=30).json()
        assert described["name"] == "Teacup" and described["time"]["stop"] == 30
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "sdhealth workbench" in page.text
        run = httpx.post(f"{url}api/run", json={"variables": ["Teacup Temperature"]}, timeout=30)
        assert run.json()["series"]["Teacup Temperature"][0] == 180
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "no_such_model.yaml"], "no_such_model.yaml: no such model file"),
        (["serve", str(MODELS / "teacup.yaml"), "--port", "99999"], "cannot listen on"),
    ],
)
def test_serve_errors_are_one_line_with_status_2(argv, message):
    import io

    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 2
    assert message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1

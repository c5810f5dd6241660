"""The workbench's API (sdhealth.workbench.app) through an HTTP client, on the NHS model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import sdhealth as sd
from sdhealth.workbench import Workbench, create_app

MODELS = Path(__file__).parents[2] / "models"
ORIGIN = "http://127.0.0.1:8765"
TARGET = "Target occupancy for elective scheduling"
LIST = "RTT waiting list"
P2 = "P2 Ten per cent bed cut"


@pytest.fixture(scope="module")
def nhs(tmp_path_factory) -> Path:
    """A copy of the NHS model and its scenarios (saving writes beside the model)."""
    folder = tmp_path_factory.mktemp("nhs")
    shutil.copy(MODELS / "nhs_england.yaml", folder / "nhs_england.yaml")
    shutil.copytree(MODELS / "nhs_england", folder / "nhs_england")
    return folder / "nhs_england.yaml"


@pytest.fixture(scope="module")
def client(nhs: Path) -> TestClient:
    bench = Workbench.open(nhs, output=nhs.parent / "saved")
    return TestClient(create_app(bench), base_url=ORIGIN)


def test_the_model_is_described_with_sliders_variables_and_scenarios(client):
    described = client.get("/api/model").json()
    assert described["name"] == "NHS England"
    constants = {c["name"]: c for c in described["constants"]}
    target = constants[TARGET]
    assert target["value"] == 0.92 and target["min"] < 0.92 < target["max"]
    assert LIST in described["variables"]
    assert {P2, "P1b Care packages for the same budget"} <= set(described["scenarios"])
    assert described["issues"] == [] or all(i["severity"] != "error" for i in described["issues"])


def test_a_run_with_a_moved_slider_gives_what_model_run_gives(client):
    reply = client.post(
        "/api/run",
        json={
            "params": {TARGET: 0.85},
            "variables": [LIST],
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    direct = sd.load(MODELS / "nhs_england.yaml").run(params={TARGET: 0.85})
    base = sd.load(MODELS / "nhs_england.yaml").run()
    np.testing.assert_allclose(body["series"][LIST], direct[LIST], rtol=1e-12)
    np.testing.assert_allclose(body["base"][LIST], base[LIST], rtol=1e-12)
    assert body["time"] == pytest.approx(direct.index.tolist())


def test_scenarios_are_compared_on_one_time_axis(client):
    reply = client.post(
        "/api/compare",
        json={"scenarios": ["base", P2], "variables": ["Bed occupancy"]},
    )
    assert reply.status_code == 200, reply.text
    runs = reply.json()["runs"]
    direct = sd.load(MODELS / "nhs_england.yaml").run(
        scenario=MODELS / "nhs_england" / "scenarios" / "P2_bed_cut.yaml"
    )
    np.testing.assert_allclose(runs[P2]["Bed occupancy"], direct["Bed occupancy"], rtol=1e-12)
    assert runs["base"]["Bed occupancy"] != runs[P2]["Bed occupancy"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"params": {TARGET: "high"}},
            400,
            "'high' is not a number",
        ),
        ({"params": {"Target bed ocupancy": 0.9}}, 400, "is not a constant of the model"),
        ({"params": {LIST: 1.0}}, 400, "is not a constant of the model"),
        ({"variables": ["Nobody"]}, 400, "'Nobody' is not a variable"),
        ({"scenario": "P9"}, 404, "no scenario named 'P9'"),
    ],
)
def test_bad_input_is_refused_with_a_message_not_a_traceback(client, body, status, message):
    reply = client.post("/api/run", json=body)
    assert reply.status_code == status and message in reply.json()["error"]
    assert client.post("/api/run", content=b"{not json").json()["error"].startswith("the request")


def test_settings_are_saved_as_a_scenario_that_asks_before_overwriting(client, nhs):
    settings = {"name": "Fewer beds", "params": {TARGET: 0.88}}
    first = client.post("/api/scenarios", json=settings)
    assert first.status_code == 200, first.text
    saved = Path(first.json()["saved"])
    assert saved == (nhs.parent / "saved" / "Fewer_beds.yaml").resolve()
    again = client.post("/api/scenarios", json=settings)
    assert again.status_code == 409 and "overwrite" in again.json()["error"]
    replaced = client.post("/api/scenarios", json={**settings, "overwrite": True})
    assert replaced.status_code == 200
    run = sd.load(nhs).run(scenario=saved)
    direct = sd.load(nhs).run(params={TARGET: 0.88})
    np.testing.assert_allclose(run[LIST], direct[LIST])
    assert "Fewer beds" in client.get("/api/model").json()["scenarios"]
    outside = client.post("/api/scenarios", json={"name": "../../evil", "params": {}})
    assert outside.status_code == 200 and Path(outside.json()["saved"]).parent == saved.parent


def test_foreign_hosts_and_cross_site_writes_are_refused(client):
    foreign = client.get("/api/model", headers={"host": "evil.example:8765"})
    assert foreign.status_code == 403
    cross = client.post(
        "/api/scenarios",
        json={"name": "x", "params": {}},
        headers={"origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and "refused" in cross.json()["error"]
    same = client.post("/api/run", json={}, headers={"origin": ORIGIN})
    assert same.status_code == 200


def test_a_model_with_errors_opens_with_them_listed(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "model: Broken\ntime: {start: 0, stop: 10, dt: 1}\n"
        "stocks:\n  Level:\n    initial: 10\n    outflows: [Drain]\n"
        "flows:\n  Drain:\n    equation: Level / Drain tme\n"
        "constants:\n  Drain time: 2\n",
        encoding="utf-8",
    )
    client = TestClient(create_app(Workbench.open(broken)), base_url=ORIGIN)
    issues = client.get("/api/model").json()["issues"]
    assert issues and issues[0]["line"] == 9 and "Drain tme" in issues[0]["message"]
    refused = client.post("/api/run", json={})
    assert refused.status_code == 422 and "errors" in refused.json()["error"]
    assert client.get("/").status_code == 200

"""Output files named on the command line are checked before any work (issue 12, point 10)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sdhealth.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEACUP = str(ROOT / "models" / "teacup.yaml")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", TEACUP, "--plot", "{tmp}/out.xyz"], "cannot write a plot as 'xyz' (use one of "),
        (["run", TEACUP, "--out", "{tmp}/out.json"], "cannot write results as '.json' (use one of"),
        (["loops", TEACUP, "--plot", "{tmp}/d.jpg"], "cannot write a diagram as '.jpg'"),
        (["dominance", TEACUP, "--plot", "{tmp}/d.bmp"], "cannot write a plot as 'bmp'"),
        (["convert", TEACUP, "{tmp}/t.txt"], "cannot write a model as '.txt' (use one of .mdl"),
        (["report", TEACUP, "--out", "{tmp}/r.pdf"], "cannot write a report as '.pdf'"),
        (
            ["run", TEACUP, "--plot", "{tmp}/noext"],
            "cannot write a plot as 'a file without suffix'",
        ),
    ],
)
def test_an_output_the_command_cannot_write_is_refused_up_front(
    argv: list[str], words: str, tmp_path: Path
) -> None:
    status, out, err = run_cli(*(arg.format(tmp=tmp_path) for arg in argv))
    assert status == 2
    assert out == ""  # refused before the model was even loaded
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_every_supported_plot_format_is_named(tmp_path: Path) -> None:
    _, _, err = run_cli("run", TEACUP, "--plot", str(tmp_path / "out.xyz"))
    for kind in ("png", "svg", "pdf"):
        assert kind in err


def test_a_missing_output_folder_is_refused_unless_mkdir(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "x.csv"
    status, out, err = run_cli("run", TEACUP, "--no-loops", "--out", str(target))
    assert status == 2 and out == ""
    assert err == (
        f"{target}: the folder {target.parent} does not exist (create it, or add --mkdir)\n"
    )
    assert not (tmp_path / "no").exists()

    status, out, err = run_cli("run", TEACUP, "--no-loops", "--out", str(target), "--mkdir")
    assert status == 0 and err == ""
    assert out.startswith(f"created the folder {target.parent}\n")
    assert target.read_text().startswith("time,")


def test_mkdir_is_offered_by_every_command_that_writes_files() -> None:
    from sdhealth.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    writers = {
        name
        for name, command in commands.items()
        if any(action.dest in ("out", "plot", "target") for action in command._actions)
    }
    assert {"run", "sweep", "montecarlo", "convert", "report", "loops"} <= writers
    for name in writers:
        assert any(a.dest == "mkdir" for a in commands[name]._actions), name


def test_check_on_a_missing_file_prints_one_line_with_the_path_once(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    status, out, err = run_cli("check", str(missing))
    assert status == 2
    assert out == f"{missing}: no such model file\n"
    assert out.count(str(missing)) == 1


def test_check_on_a_file_that_does_not_parse_prints_its_one_located_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model: Bad\nstocks:\n  S: {initial: [1\n")
    status, out, _ = run_cli("check", str(path))
    assert status == 2 and out.count("\n") == 1
    assert out.startswith(f"{path}:") and "invalid YAML" in out

"""Every Python example of the README and the docs pages runs, as a user would paste it.

A page's ``python`` blocks are one session, in order. Blocks written as an interactive session
(``>>>``) are doctests: what they print must be what the page shows. Other blocks are executed
and must not raise. They run in a scratch folder that holds the repository's ``models/`` and
``docs/`` (the examples name files relative to the repository), so the files they write land
in the scratch folder.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)


def _blocks(page: Path) -> list[str]:
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


WITH_EXAMPLES = [page for page in PAGES if _blocks(page)]


def test_the_pages_with_examples_are_found() -> None:
    names = {page.name for page in WITH_EXAMPLES}
    assert {"README.md", "experiments.md", "montecarlo-sensitivity.md", "cld-format.md"} <= names


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    matplotlib.use("Agg")
    for folder in ("models", "docs"):
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("page", WITH_EXAMPLES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_example_of_the_page_runs(page: Path, scratch: Path) -> None:
    import matplotlib.pyplot as plt

    namespace: dict[str, object] = {"__name__": "__docs__"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    try:
        for index, block in enumerate(_blocks(page)):
            name = f"{page.name}, example {index + 1}"
            if block.lstrip().startswith(">>>"):
                test = parser.get_doctest(block, namespace, name, str(page), 0)
                runner.run(test, clear_globs=False)
                namespace = test.globs
            else:
                exec(compile(block, name, "exec"), namespace)  # noqa: S102 - the docs' own code
    finally:
        plt.close("all")
        client = namespace.get("client")
        if client is not None and hasattr(client, "close"):
            client.close()
    summary = runner.summarize(verbose=False)
    assert summary.failed == 0, f"{summary.failed} of {summary.attempted} doctest examples failed"
    interactive = sum(block.count("\n>>> ") + block.startswith(">>> ") for block in _blocks(page))
    assert summary.attempted == interactive, summary

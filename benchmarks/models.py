"""Benchmark models: the generated chain (from :mod:`sdhealth.benchmarks.chain`) and the shipped
models of this repository's ``models/`` folder (the full suite only: an installed package has
no ``models/`` folder, so ``sdhealth bench`` runs the chain alone).
"""

from __future__ import annotations

from pathlib import Path

from sdhealth.benchmarks.chain import chain_model

__all__ = ["chain_model", "shipped_models", "MODELS_DIR"]

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def shipped_models() -> dict[str, Path]:
    """The models of ``models/`` by file stem."""
    return {
        path.stem: path
        for path in sorted(MODELS_DIR.glob("*.yaml"))
        if not path.read_text(encoding="utf-8").startswith("diagram:")  # causal-loop diagrams
    }

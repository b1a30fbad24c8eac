"""Every notebook in analysis/ runs top to bottom on a smoke-tier store (nbclient)."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "analysis").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, smoke_store, monkeypatch):
    monkeypatch.setenv("HYPERENS_STORE", str(smoke_store))
    repo = str(path.parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": repo}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # ensemble size, reliability, diversity, cost
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "hyper_batch_ensemble − batch_ensemble" in text and "95% interval" in text  # claims
    assert "hyper_batch_ensemble | " in text  # where the tuned hyperparameters ended
    frames = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "caruana" in frames and "random" in frames  # ensembles from the store

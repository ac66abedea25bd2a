"""examples/seed_assignment.ipynb: committed without outputs, and run top to bottom with nbclient
against a live server — the student's hand-written gradients agree with autograd."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "seed_assignment.ipynb"


def test_the_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    cleared = all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert cleared, "python -m scripts.clear_notebook examples/seed_assignment.ipynb"


@pytest.mark.slow
def test_the_notebook_runs_and_the_students_gradients_agree(
    live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("GRADIENT_SERVICE_URL", live_url)  # the kernel inherits it
    where = {"metadata": {"path": str(NOTEBOOK.parent)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=where).execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs
    )  # fmt: skip
    assert "pass 1.0 152 of 152 entries" in printed  # 151 gradients and the loss
    assert "wrong_activation_derivative at layer 3" in printed
    assert "manual stayed within tolerance of autograd: True" in printed

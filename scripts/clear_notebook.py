"""Clear a notebook's outputs and execution counts, as it is committed.

python -m scripts.clear_notebook examples/seed_assignment.ipynb
"""

import sys
from pathlib import Path

import nbformat


def clear(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(notebook, path)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        clear(Path(name))

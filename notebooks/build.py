"""Build the teaching notebooks (outputs stripped) from the cell lists in notebooks/cells/.

    python notebooks/build.py          # rewrites notebooks/*.ipynb

Each notebook's first code cell is tagged `parameters` (small settings: the tests run them as they are).
Edit the cell lists, rebuild, commit both.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOKS = [p.stem for p in sorted((HERE / "cells").glob("[0-9][0-9]_*.py"))]


def build(name: str) -> nbformat.NotebookNode:
    spec = importlib.util.spec_from_file_location(name, HERE / "cells" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = []
    for kind, text, *tags in module.CELLS:
        text = text.strip("\n")
        if kind == "md":
            cells.append(new_markdown_cell(text))
        else:
            cell = new_code_cell(text)
            if tags:
                cell.metadata["tags"] = list(tags)
            cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids, so rebuilding an unchanged notebook changes nothing
        cell.id = f"{name.split('_')[0]}-{i:02d}"
    return nb


def main():
    for name in NOTEBOOKS:
        nb = build(name)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()

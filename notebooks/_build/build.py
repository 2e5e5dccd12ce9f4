"""Build the notebooks from their percent-format sources in this folder.

Each ``NN_name.py`` here is the source of ``notebooks/NN_name.ipynb``: cells start at a line
``# %%`` (code) or ``# %% [markdown]`` (markdown, every line prefixed with ``# ``). The first
code cell is tagged ``parameters``. Outputs are never written: run the notebooks to see them.

    python notebooks/_build/build.py          # rewrite every notebook
    python notebooks/_build/build.py --check  # exit 1 if a notebook differs from its source
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _cells(text: str) -> list:
    cells, kind, lines = [], None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#")
                             for ln in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    for cell in cells:
        if cell.cell_type == "code":
            cell.metadata["tags"] = ["parameters"]
            break
    return cells


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of one percent-format source file, outputs empty."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = _cells(source.read_text())
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem[:2]}-{i:03d}"  # stable ids: rebuilding gives identical files
    return nb


def sources() -> list[Path]:
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for src in sources():
        target = NOTEBOOKS / f"{src.stem}.ipynb"
        text = nbformat.writes(build(src)) + "\n"
        if check:
            if not target.is_file() or target.read_text() != text:
                stale.append(target.name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(NOTEBOOKS.parent)}")
    if stale:
        print("out of date (run python notebooks/_build/build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

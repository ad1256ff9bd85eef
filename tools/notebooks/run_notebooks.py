#!/usr/bin/env python3
"""Executes every notebook in notebooks/ headlessly (nbclient), as `make notebooks` does; exits 1 if one fails.

Each notebook removes its working folder in its last cell; the kernel's TMPDIR is a folder made and removed here,
so nothing outlives a notebook that fails half-way. The committed .ipynb files are not modified
(`make_notebooks.py --execute` writes outputs into them).
"""
import os
import pathlib
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(nb, path):
    """Executes the notebook `nb` (read from `path`) in place, in the notebook's folder, with a TMPDIR of its own
    that is removed afterwards; no timing metadata."""
    with tempfile.TemporaryDirectory(prefix="lorweb-notebook-run-") as tmp:
        NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute(env=dict(os.environ, TMPDIR=tmp))


if __name__ == "__main__":
    failed = False
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        start = time.time()
        try:
            run(nbformat.read(path, as_version=4), path)
            print(f"notebook {path.name}: ok in {time.time() - start:.0f} s", flush=True)
        except CellExecutionError as error:
            failed = True
            print(f"notebook {path.name}: FAILED after {time.time() - start:.0f} s\n{error}", file=sys.stderr, flush=True)
    sys.exit(1 if failed else 0)

#!/usr/bin/env python3
"""Executes every notebook in notebooks/ headlessly (nbclient), as `make notebooks` does; exits 1 on the first failure.

The notebooks write into their own temporary folders; the committed .ipynb files are not modified.
"""
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[2]

failed = False
for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
    start = time.time()
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        print(f"notebook {path.name}: ok in {time.time() - start:.0f} s", flush=True)
    except CellExecutionError as error:
        failed = True
        print(f"notebook {path.name}: FAILED after {time.time() - start:.0f} s\n{error}", file=sys.stderr, flush=True)
sys.exit(1 if failed else 0)

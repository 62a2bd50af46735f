#!/usr/bin/env python3
"""Runs a notebook's code cells in order as one script, in a scratch folder
(Debian's jupyter packages are not needed to check that a notebook works).

Usage: run-notebook.py NOTEBOOK.ipynb
"""
import json
import os
import sys
import tempfile

if len(sys.argv) != 2:
    sys.exit("usage: run-notebook.py NOTEBOOK.ipynb")
nb = json.load(open(sys.argv[1]))
code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
os.chdir(tempfile.mkdtemp(prefix="ultrasim-notebook-"))
exec(compile(code, sys.argv[1], "exec"), {"__name__": "__main__"})
print("run-notebook: %s ran in %s" % (sys.argv[1], os.getcwd()))

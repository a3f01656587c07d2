"""Flask vs Django deployments, measured: the same as `mlapps compare` / `make compare`.

Prints the table and writes reports/compare.md, reports/compare.json and
reports/compare.svg; every option of `mlapps compare --help` is accepted here.
The harness itself is common/compare.py; the baselines are in benchmarks/baselines/.
"""

from __future__ import annotations

import sys

from common.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))

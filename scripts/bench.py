"""Benchmarks against raw baselines measured in the same run. See docs/performance.md.

    python scripts/bench.py --quick            # small run (part of the test suite)
    python scripts/bench.py --json > out.jsonl # full run, one JSON object per result
"""

from __future__ import annotations

import argparse
import sys

from orderflow.adapters.bench.runner import SCENARIOS, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--json", action="store_true", help="one JSON object per result")
    parser.add_argument("--backend", action="append", choices=["postgres", "sqlite"], help="repeatable; default both")
    parser.add_argument("--scenario", action="append", help=f"repeatable; one of {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    sys.exit(main(args.scenario, args.backend or ["postgres", "sqlite"], args.quick, args.json))

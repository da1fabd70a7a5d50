"""Benchmarks: every figure next to a raw baseline measured in the same run.

Run `python scripts/bench.py [--quick] [--json]` or `orderflow bench`. Each scenario yields
`Result`s; `--json` prints one object per result:
{"scenario", "backend", "value", "unit", "baseline", "ratio", "target", "met"}.
"""

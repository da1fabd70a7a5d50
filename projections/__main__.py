"""`python -m orderflow.projections DATABASE_URL [VIEW ...]`: keep the views up to date.

The same as `orderflow projections run`, without the CLI's settings layer: for a service that
runs the read models in a process of their own.
"""

from __future__ import annotations

import signal
import sys

from orderflow.projections.registry import open_read_models

from orderflow import open_engine


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    engine = open_engine(argv[0])
    models = open_read_models(engine, argv[1:] or None)
    signal.signal(signal.SIGTERM, lambda *_: models.stop(timeout=0))
    signal.signal(signal.SIGINT, lambda *_: models.stop(timeout=0))
    print(f"following the log for {len(models.views)} view(s)", file=sys.stderr, flush=True)
    models.run_forever()
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

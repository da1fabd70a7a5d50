"""The CLI run in this process against one SQLite file, for the e2e tests of the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orderflow.adapters.cli import app
from typer.testing import CliRunner


class Cli:
    """The CLI in this process (the app the console script runs), on one SQLite file."""

    def __init__(self, database: Path) -> None:
        self.runner = CliRunner()
        self.env = {"ORDERFLOW_DATABASE_URL": f"sqlite:///{database}"}

    def run(self, *args: str) -> tuple[int, str, str]:
        result = self.runner.invoke(app, list(args), env=self.env)
        return result.exit_code, result.stdout, result.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, err or out
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 1, out
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        return err.strip()

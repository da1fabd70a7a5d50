"""The CLI's shared state: settings validated once, the engine opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine


@dataclass
class CliState:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self.settings.open_engine()
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def engine(ctx: typer.Context) -> Engine:
    """The engine of this CLI run."""
    state: CliState = ctx.find_root().obj
    return state.engine()


def settings(ctx: typer.Context) -> Settings:
    """The settings of this CLI run."""
    state: CliState = ctx.find_root().obj
    return state.settings

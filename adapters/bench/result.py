"""One measured figure, its baseline and its target."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """A measured value; `ratio` is value / baseline when a baseline exists."""

    scenario: str
    backend: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    def as_json(self) -> str:
        return json.dumps(
            {
                "scenario": self.scenario,
                "backend": self.backend,
                "value": round(self.value, 3),
                "unit": self.unit,
                "baseline": None if self.baseline is None else round(self.baseline, 3),
                "ratio": None if self.ratio is None else round(self.ratio, 3),
                "target": self.target,
                "met": self.met,
                **({"details": self.details} if self.details else {}),
            },
            ensure_ascii=False,
        )

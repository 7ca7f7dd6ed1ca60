"""The answer to the business question, shared by the Spark job and the Spark-free command."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    """Expected revenue of one market over the days after the as-of date."""

    market: str
    as_of: dt.date
    first_day: dt.date
    last_day: dt.date
    model: str
    status: str
    expected: float
    #: level -> (sum of daily lower bounds, sum of daily upper bounds)
    bands: dict[int, tuple[float, float]] = field(default_factory=dict)
    actual: float | None = None
    actual_days: int = 0

    def __str__(self) -> str:
        days = (self.last_day - self.first_day).days + 1
        lines = [
            f"market {self.market}, as of {self.as_of}: revenue in the {days} days "
            f"{self.first_day} .. {self.last_day}",
            f"model: {self.model} (status {self.status})",
            f"expected revenue: {self.expected:,.2f}",
        ]
        for level, (low, high) in sorted(self.bands.items()):
            lines.append(f"{level}% band (sum of daily bounds): {low:,.2f} .. {high:,.2f}")
        if self.actual is None:
            lines.append("actual: not in the lake yet")
        else:
            share = f"{self.actual_days} of {days} days in the lake"
            error = ""
            if self.actual_days == days and self.actual != 0:
                error = f"; forecast error {(self.expected - self.actual) / abs(self.actual):+.1%}"
            lines.append(f"actual: {self.actual:,.2f} ({share}){error}")
        return "\n".join(lines)

"""Overtraining signal: the held-out mel loss per evaluation and advice in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field

PATIENCE = 3
"""Evaluations without improvement before the advice says to stop."""
RISE = 1.02
"""The latest loss must exceed the best by 2% to count as rising (noise tolerance)."""


@dataclass
class HeldoutTracker:
    """History of ``(epoch, step, held-out mel L1)``; the lowest is the recommended epoch."""

    history: list[tuple[int, int, float]] = field(default_factory=list)

    def add(self, epoch: int, step: int, value: float) -> bool:
        """Records one evaluation; True when it is the best so far."""
        best = self.best
        self.history.append((epoch, step, value))
        return best is None or value < best[2]

    @property
    def best(self) -> tuple[int, int, float] | None:
        return min(self.history, key=lambda h: h[2]) if self.history else None

    def advice(self) -> str:
        best = self.best
        if best is None:
            return "No held-out slices: add more audio to get a recommendation."
        epoch, _, value = best
        latest_epoch, _, latest = self.history[-1]
        since = sum(1 for e, _, _ in self.history if e > epoch)
        if latest_epoch == epoch:
            return f"Still improving: epoch {epoch} is the best so far (held-out loss {value:.3f})."
        if since >= PATIENCE and latest > value * RISE:
            return (
                f"Held-out loss has risen for {since} evaluations since epoch {epoch}: the voice is probably "
                f"overtraining. Stop and use epoch {epoch}."
            )
        return (
            f"No gain since epoch {epoch} (held-out loss {value:.3f} vs {latest:.3f} now); watch a few more."
        )

    def to_list(self) -> list[list[float]]:
        return [[e, s, v] for e, s, v in self.history]

    @classmethod
    def from_list(cls, data: list[list[float]]) -> HeldoutTracker:
        return cls([(int(e), int(s), float(v)) for e, s, v in data])

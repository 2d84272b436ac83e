"""Typed JSON-lines progress events: the trainer writes them on stdout, the GUI and CLI read them.

One event per line, ``{"event": <kind>, ...fields}``. Only rank 0 emits. Readers ignore lines
that are not events (tqdm, warnings), so a crash never desynchronises the stream.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of all events; ``kind`` names the event on the wire."""

    kind: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_json(self) -> str:
        return json.dumps({"event": self.kind, **asdict(self)}, allow_nan=False, default=str)


@dataclass(frozen=True)
class Stage(Event):
    """A stage starts: ``name`` is one of prepare, features, train, export, index, distill."""

    kind: ClassVar[str] = "stage"
    name: str
    message: str = ""


@dataclass(frozen=True)
class Progress(Event):
    """Work inside a stage: ``done`` of ``total`` items, ``eta`` seconds or None."""

    kind: ClassVar[str] = "progress"
    stage: str
    done: int
    total: int
    eta: float | None = None


@dataclass(frozen=True)
class StepLosses(Event):
    """Training losses at one optimizer step (already averaged over ranks' last batch)."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: int
    losses: dict[str, float]
    lr: float
    steps_per_s: float = 0.0


@dataclass(frozen=True)
class Checkpoint(Event):
    """A checkpoint was written atomically at ``path``."""

    kind: ClassVar[str] = "checkpoint"
    path: str
    step: int
    epoch: int


@dataclass(frozen=True)
class Eval(Event):
    """Held-out evaluation: mel L1 on held-out slices and the overtraining advice in plain words."""

    kind: ClassVar[str] = "eval"
    epoch: int
    step: int
    heldout_mel: float
    best_epoch: int
    advice: str


@dataclass(frozen=True)
class Done(Event):
    """The job finished; ``outputs`` maps a role (voice, index, checkpoint) to a file path."""

    kind: ClassVar[str] = "done"
    outputs: dict[str, str]
    message: str = ""


@dataclass(frozen=True)
class Error(Event):
    """The job stopped with an error a user can act on (``error_type`` is the exception class)."""

    kind: ClassVar[str] = "error"
    message: str
    error_type: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Stage, Progress, StepLosses, Checkpoint, Eval, Done, Error)
}


class EventWriter:
    """Writes events as JSON lines; disabled writers (ranks > 0) drop everything."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self._stream = stream
        self.enabled = enabled

    def emit(self, event: Event) -> None:
        if not self.enabled:
            return
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(event.to_json() + "\n")
        stream.flush()


def parse_event(line: str) -> Event | None:
    """One line -> its event, or None when the line is not an event (plain log output)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(str(data.pop("event", "")))
    if cls is None:
        return None
    try:
        return cls(**data)
    except TypeError:
        return None


def read_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events from a stream of lines (a subprocess's stdout, a log file), skipping other output."""
    for line in lines:
        event = parse_event(line)
        if event is not None:
            yield event

"""Human-readable rendering of training events for the terminal (tqdm bar per stage)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from training.events import Checkpoint, Done, Error, Eval, Event, Progress, Stage, StepLosses


class EventPrinter:
    """Prints stages, losses, evaluations and results; one progress bar per stage."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self.failed = False
        self.outputs: dict[str, str] = {}
        self._bar: Any = None
        self._stage = ""

    def on_line(self, line: str) -> None:
        if line.strip():
            self._write(line)

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def on_event(self, event: Event) -> None:
        if self.raw:
            print(event.to_json(), flush=True)
        if isinstance(event, Error):
            self.failed = True
            self._write(f"error: {event.message}")
        elif isinstance(event, Done):
            self.outputs = dict(event.outputs)
        if self.raw:
            return
        self._human(event)

    def _human(self, event: Event) -> None:
        if isinstance(event, Stage):
            self._write(f"[{event.name}] {event.message}")
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, StepLosses):
            losses = " ".join(f"{k}={v:.3f}" for k, v in event.losses.items())
            self._write(f"step {event.step} epoch {event.epoch}: {losses} lr={event.lr:.2e}")
        elif isinstance(event, Eval):
            self._write(f"epoch {event.epoch}: held-out mel {event.heldout_mel:.3f}. {event.advice}")
        elif isinstance(event, Checkpoint):
            self._write(f"checkpoint: {event.path}")
        elif isinstance(event, Done):
            self.close()
            for role, path in event.outputs.items():
                print(f"{role}: {path}")
            if event.message:
                print(event.message)

    def _progress(self, event: Progress) -> None:
        if self._bar is None or self._stage != event.stage:
            self.close()
            self._stage = event.stage
            self._bar = tqdm(total=event.total, desc=event.stage, file=sys.stderr, leave=False)
        self._bar.total = event.total
        self._bar.n = event.done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

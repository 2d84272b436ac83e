"""The training process seen from Qt: start a :class:`training.api.Job`, read its JSON-line events.

The trainer runs in its own process (torchrun and its workers, in a new session so the whole group
can be stopped at once). Each stdout line goes through :func:`training.api.parse_event` and comes
out as a typed signal; other lines go to ``log_line``. stderr is appended to a log file. A trainer
that crashes or cannot start emits ``error`` and then ``finished``; nothing here ever blocks the GUI.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import IO

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from training import api

KILL_AFTER_MS = 5000
"""How long a stop waits for a clean exit (SIGTERM) before killing the process group."""


class TrainingProcess(QObject):
    """A QProcess running one training job; emits one signal per event kind.

    Signals carry the typed events of :mod:`training.api` (``Stage``, ``Progress``, ...).
    ``finished(exit_code)`` comes last, exactly once per start; ``stopped_by_user`` tells a Stop
    from a crash.
    """

    started = Signal()
    stage = Signal(object)
    progress = Signal(object)
    losses = Signal(object)
    eval = Signal(object)
    checkpoint = Signal(object)
    done = Signal(object)
    error = Signal(object)
    log_line = Signal(str)
    finished = Signal(int)

    def __init__(self, log_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.stopped_by_user = False
        self._proc: QProcess | None = None
        self._buffer = b""
        self._saw_error = False
        self._saw_done = False
        self._stderr_tail: list[str] = []
        self._log: IO[bytes] | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    # control ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    def start(self, job: api.Job) -> None:
        """Start ``job.argv`` with ``job.env`` (no shell). Starting the same job again resumes it."""
        if self.running:
            raise RuntimeError("a training process is already running")
        self.stopped_by_user = False
        self._buffer, self._saw_error, self._saw_done, self._stderr_tail = b"", False, False, []
        self._open_log(job)
        proc = QProcess(self)
        env = QProcessEnvironment()
        for key, value in job.env.items():
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(Path(__file__).resolve().parents[2]))
        params = QProcess.UnixProcessParameters()
        params.flags = QProcess.UnixProcessFlag.CreateNewSession
        proc.setUnixProcessParameters(params)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        proc.started.connect(self.started)
        self._proc = proc
        proc.start(job.argv[0], job.argv[1:])

    def stop(self, kill_after_ms: int = KILL_AFTER_MS) -> None:
        """Ask the whole process group to stop (SIGTERM), and kill it if it is still there later."""
        if not self.running:
            return
        self.stopped_by_user = True
        self._signal_group(signal.SIGTERM)
        self._kill_timer.start(kill_after_ms)

    def kill(self) -> None:
        """Kill the process group now (the trainer resumes from its last checkpoint next time)."""
        if self.running:
            self._signal_group(signal.SIGKILL)

    def wait(self, msecs: int) -> bool:
        """Block up to ``msecs`` for the process to end (for shutdown paths only, not for slots)."""
        return self._proc is None or self._proc.waitForFinished(msecs)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        pid = int(self._proc.processId())
        if pid <= 0:
            return
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    # reading ------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self._proc is not None
        self._buffer += bytes(self._proc.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._handle_line(raw.decode("utf-8", errors="replace"))

    def _handle_line(self, line: str) -> None:
        event = api.parse_event(line)
        if event is None:
            if line.strip():
                self.log_line.emit(line.rstrip())
            return
        self._dispatch(event)

    def _dispatch(self, event: api.Event) -> None:
        if isinstance(event, api.Stage):
            self.stage.emit(event)
        elif isinstance(event, api.Progress):
            self.progress.emit(event)
        elif isinstance(event, api.StepLosses):
            self.losses.emit(event)
        elif isinstance(event, api.Eval):
            self.eval.emit(event)
        elif isinstance(event, api.Checkpoint):
            self.checkpoint.emit(event)
        elif isinstance(event, api.Done):
            self._saw_done = True
            self.done.emit(event)
        elif isinstance(event, api.Error):
            self._saw_error = True
            self.error.emit(event)

    def _read_stderr(self) -> None:
        assert self._proc is not None
        data = bytes(self._proc.readAllStandardError().data())
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        text = data.decode("utf-8", errors="replace")
        self._stderr_tail = (self._stderr_tail + [s for s in text.splitlines() if s.strip()])[-20:]
        for line in text.splitlines():
            if line.strip():
                self.log_line.emit(line)

    # ending -------------------------------------------------------------------------------
    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            assert self._proc is not None
            message = f"the trainer could not start: {self._proc.errorString()}"
            self._saw_error = True
            self.error.emit(api.Error(message=message, error_type="FailedToStart"))
            self._finish(-1)

    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        if self._buffer.strip():
            self._handle_line(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
        crashed = status == QProcess.ExitStatus.CrashExit or exit_code != 0
        if crashed and not self.stopped_by_user and not self._saw_error:
            self.error.emit(api.Error(message=self._crash_message(exit_code), error_type="TrainerCrashed"))
        elif not crashed and not self._saw_done and not self._saw_error and not self.stopped_by_user:
            message = "the trainer ended without finishing; start it again to resume"
            self.error.emit(api.Error(message=message, error_type="TrainerIncomplete"))
        self._finish(exit_code if status == QProcess.ExitStatus.NormalExit else -1)

    def _crash_message(self, exit_code: int) -> str:
        last = self._useful_stderr_line()
        where = f"; details in {self.log_path}" if self.log_path else ""
        detail = f": {last}" if last else ""
        return f"the trainer stopped unexpectedly (exit code {exit_code}){detail}{where}"

    def _useful_stderr_line(self) -> str:
        for line in reversed(self._stderr_tail):
            text = line.strip()
            if text and not text.startswith(("File ", "^", "~", "[")):
                return text[:300]
        return ""

    def _finish(self, exit_code: int) -> None:
        self._kill_timer.stop()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._proc is not None:
            self._proc.deleteLater()
            self._proc = None
        self.finished.emit(exit_code)

    def _open_log(self, job: api.Job) -> None:
        if self.log_path is None:
            self.log_path = job.exp_dir / "trainer.log"
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _finish
        except OSError:
            self._log = None

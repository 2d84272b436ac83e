"""Run the real app window under X (Xvfb) streaming through JACK, and save screenshots.

Used by test_screenshots.py: ``python -m tests.app.screenshot_app OUT_DIR`` with DISPLAY,
QT_QPA_PLATFORM=xcb, JACK_DEFAULT_SERVER and VOXSHIFT_DATA_DIR set by the test.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf
from PySide6.QtCore import QSettings, QTimer

from app.controllers import AppController
from app.gui import create_app
from app.main_window import MainWindow
from benchkit.jackbench import JackHarness
from benchkit.signals import harmonic

RATE = 48000


def main(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = Path(os.environ["VOXSHIFT_DATA_DIR"])
    app = create_app()
    window = MainWindow()
    controller = AppController(window, QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    controller.conversion.set_output_dir(data / "converted")
    window.resize(1480, 940)
    window.show()
    controller.voices.select("builtin:deeper")
    window.voices.select("builtin:deeper")
    server = SimpleNamespace(name=os.environ["JACK_DEFAULT_SERVER"], rate=RATE)
    bench: list[JackHarness] = []
    speech = np.concatenate(
        [harmonic(RATE, 1.2, f0=f, seed=i) * 0.5 for i, f in enumerate((120, 160, 140, 180))]
    )

    def start() -> None:
        window.toggle.click()
        QTimer.singleShot(400, connect)

    def connect() -> None:
        harness = JackHarness(server)  # type: ignore[arg-type]
        bench.append(harness)
        clients = {p.name.split(":")[0] for p in harness.client.get_ports()} - {"system", "voxbench"}
        try:
            harness.connect_app(client=sorted(clients)[0] if len(clients) == 1 else "PortAudio")
        except RuntimeError as err:  # the stream's ports are not there (yet): the shot shows it
            print("jack:", err)
            return
        threading.Thread(target=harness.play_record, args=(speech,), daemon=True).start()

    def shot_main() -> None:
        window.grab().save(str(out_dir / "main_window.png"))
        window.toggle.click()
        sources = []
        for i, (name, f0) in enumerate(
            (("interview.wav", 130.0), ("podcast_intro.flac", 170.0), ("notes.wav", 150))
        ):
            path = data / name
            sf.write(path, harmonic(RATE, 6.0 + 4 * i, f0=f0, seed=i) * 0.4, RATE)
            sources.append(path)
        controller.conversion.convert(sources[:2])
        controller.voices.select("builtin:higher")
        window.voices.select("builtin:higher")
        ids = controller.conversion.convert(sources[2:])
        QTimer.singleShot(250, lambda: controller.conversion.queue.cancel(ids[0]))
        QTimer.singleShot(3500, shot_convert)

    def shot_convert() -> None:
        window.grab().save(str(out_dir / "file_conversion.png"))
        for harness in bench:
            harness.close()
        window.close()
        app.quit()

    QTimer.singleShot(300, start)
    QTimer.singleShot(3300, shot_main)
    app.exec()
    print("errors:", controller.dialogs.errors, flush=True)
    return 0 if (out_dir / "main_window.png").exists() else 1


if __name__ == "__main__":
    code = main(Path(sys.argv[1]))
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: JACK's threads can hang it

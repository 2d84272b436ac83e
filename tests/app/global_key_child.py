"""Child of test_global_ptt.py, run with DISPLAY set to an Xvfb server: ``global_key_child KEY``.

Another X client (a plain window made here with python-xlib) takes the keyboard focus, KEY (an
``app.hotkeys.PTT_KEYS`` name) is pressed and released through the XTEST extension (as a real
keyboard would type it), after another key (F4), and the script prints one JSON line: what
``GlobalKey`` emitted, and whether the focused window still got the key (the listener only
observes).
"""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QCoreApplication
from Xlib import XK, X, display
from Xlib.ext import xtest

from app.hotkeys import GlobalKey


def main() -> int:
    app = QCoreApplication(sys.argv[:1])
    held: list[bool] = []
    name = sys.argv[1]
    key = GlobalKey(name)
    key.held.connect(held.append)
    reason = key.start()
    if reason is not None:
        print(json.dumps({"error": reason}))
        return 1

    d = display.Display()
    root = d.screen().root
    game = root.create_window(10, 10, 200, 100, 0, d.screen().root_depth, event_mask=X.KeyPressMask)
    game.map()
    d.sync()
    time.sleep(0.2)
    game.set_input_focus(X.RevertToParent, X.CurrentTime)
    d.sync()
    keysym = XK.string_to_keysym(name.replace(" ", "_"))
    code = d.keysym_to_keycode(keysym)
    other = d.keysym_to_keycode(XK.string_to_keysym("F4"))  # another key: must not count

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    pump(0.3)
    xtest.fake_input(d, X.KeyPress, other)
    xtest.fake_input(d, X.KeyRelease, other)
    xtest.fake_input(d, X.KeyPress, code)
    d.sync()
    pump(0.5)
    during = list(held)
    xtest.fake_input(d, X.KeyRelease, code)
    d.sync()
    pump(0.5)
    focused = d.get_input_focus().focus.id == game.id
    game_got_key = False
    while d.pending_events():
        event = d.next_event()
        if event.type == X.KeyPress and event.detail == code:
            game_got_key = True
    key.stop()
    print(json.dumps({"during": during, "after": held, "focused": focused, "game_got_key": game_got_key}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Python's garbage collector while the kiosk program loads.

Loading makes only objects that live as long as the process: modules, classes, compiled
patterns and styles. Collections while it loads walk them again and again and find nothing
to free; at a cold start of the screens that was about 50 ms of CPU, a sixth of the start.
So the ``kiosk`` program holds the collector while it loads (``hold``); once the program is
loaded, what it holds is set aside for good (``gc.freeze``: never walked again) and the
collector runs as usual from there on (``loaded``).
"""

from __future__ import annotations

import gc


def hold() -> None:
    """No collections until ``loaded``: called first thing by the ``kiosk`` program."""
    gc.disable()


def loaded() -> None:
    """The program is loaded: freeze what it holds and collect as usual from now on.

    Does nothing where the collector was not held (the kiosk used as a library, tests), so
    it never freezes the garbage of a process that did not choose this."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()

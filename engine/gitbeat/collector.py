"""When Python's cyclic garbage collector runs: paused while objects that live on are made.

Loading a config, reading the store and diffing them make millions of objects that live
until the command exits, and no garbage cycles worth collecting; the collector would walk
all of them again each time some thousands more are made (a tenth of `plan` and `apply`,
a third of loading a big config). Commands that keep running (beat, a worker, the server)
or work through queues of any length keep the collector, pausing it only around such a load.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while (as it was after)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

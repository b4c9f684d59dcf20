"""Pre-emption: a SIGTERM during a training loop asks it to save and stop at the next step."""

from __future__ import annotations

import contextlib
import signal
import threading


class StopFlag:
    def __init__(self):
        self.requested = False


@contextlib.contextmanager
def preemption_guard():
    """Within the block, SIGTERM sets `flag.requested` instead of killing the process (main
    thread only; elsewhere the flag simply never fires). The old handler is restored after."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.requested = True

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, old)

"""A dependency-free progress display: a redrawn bar in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`with Progress(total, "burgers") as p: ... p.update(k)`.

    In a terminal the line is redrawn in place; when the stream is not a TTY (batch logs) a
    plain line is written at most every `interval` seconds and at the end.
    """

    def __init__(
        self, total: int, desc: str, *, unit: str = "samples", stream: TextIO | None = None,
        interval: float = 10.0, enabled: bool = True,
    ):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval, self.enabled = interval, enabled
        self.done = 0
        self.start = self.last = time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.done < self.total and (self.tty or now - self.last >= self.interval):
            self._write(final=False)
            self.last = now

    def close(self) -> None:
        self._write(final=True)

    def _write(self, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        frac = self.done / self.total if self.total else 1.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        text = (
            f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * frac:5.1f} %) "
            f"{elapsed:7.1f} s elapsed, {rate:8.2f} {self.unit}/s"
        )
        if not final:
            text += f", eta {eta:6.0f} s"
        if self.tty:
            width = 24
            bar = "#" * int(width * frac) + "." * (width - int(width * frac))
            self.stream.write(f"\r[{bar}] {text}" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

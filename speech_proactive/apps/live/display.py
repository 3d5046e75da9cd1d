"""Show the events: in place on a terminal, as plain lines when piped, or as JSON lines (--jsonl).

Terminal: finished segments scroll up as lines; under them the segment in progress (its complete words, then
the last word, dimmed, while it may still change) and a status line are redrawn in place. Plain: one line per
finished segment and the summary, nothing redrawn (logs, pipes). JSON lines: every event, one object a line.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from speech_proactive.streaming.events import Event, SegmentEnded, Status, Summary, TextUpdate, to_json

DIM, RESET = "\x1b[2m", "\x1b[0m"
CLEAR_LINE, UP = "\r\x1b[2K", "\x1b[1A"


def clock(ms: float) -> str:
    """Stream time as m:ss.s."""
    minutes, seconds = divmod(ms / 1000, 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def segment_line(e: SegmentEnded) -> str:
    return f"[{clock(e.start_ms)}-{clock(e.end_ms)}] {e.text}"


def status_line(e: Status) -> str:
    lag = "-" if e.lag_ms is None else f"{e.lag_ms:.0f} ms"
    compute = f"{e.compute_ms:.0f} ms/chunk" if e.compute_ms > 0 else "model idle"  # silence is not fed
    return (
        f"heard {clock(e.heard_ms)} | lag {lag} | {compute} | READ {e.n_reads} WRITE {e.n_writes} | "
        f"dropped {e.n_dropped} | {'speech' if e.speech else 'silence'}"
    )


def summary_line(e: Summary) -> str:
    lag = "n/a (no real time)" if e.mean_lag_ms is None else f"{e.mean_lag_ms:.0f} ms"
    overflows = f", {e.n_device_overflows} device overflows" if e.n_device_overflows else ""
    return (
        f"{'interrupted: ' if e.interrupted else ''}{clock(e.duration_ms)} of audio, {e.n_segments} segments, "
        f"{e.n_words} words, mean lag {lag}, {e.mean_compute_ms:.1f} ms compute per chunk, "
        f"{e.n_dropped} dropped chunks{overflows}"
    )


class JsonLines:
    def __init__(self, out: TextIO):
        self.out = out

    def __call__(self, event: Event) -> None:
        print(to_json(event), file=self.out, flush=True)


class PlainLines:
    def __init__(self, out: TextIO, summary: bool = True):
        self.out = out
        self.summary = summary

    def __call__(self, event: Event) -> None:
        if isinstance(event, SegmentEnded):
            print(segment_line(event), file=self.out, flush=True)
        elif isinstance(event, Summary) and self.summary:
            print(summary_line(event), file=self.out, flush=True)


class Terminal:
    def __init__(self, out: TextIO):
        self.out = out
        self.committed = ""
        self.tail = ""
        self.status = ""
        self._drawn = False  # the two live lines are on screen, the cursor at the end of the status line

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextUpdate):
            self.committed, self.tail = event.committed, event.tail
            self._redraw()
        elif isinstance(event, Status):
            self.status = status_line(event)
            self._redraw()
        elif isinstance(event, SegmentEnded):
            self._clear()
            self.committed = self.tail = ""
            self.out.write(segment_line(event) + "\n")
            self._redraw()
        elif isinstance(event, Summary):
            self._clear()
            self.out.write(summary_line(event) + "\n")
            self.out.flush()

    def _clear(self) -> None:
        if self._drawn:
            self.out.write(CLEAR_LINE + UP + CLEAR_LINE)
            self._drawn = False

    def _redraw(self) -> None:
        width = max(10, shutil.get_terminal_size().columns - 1)  # never wrap: the cursor-up count stays right
        self._clear()
        self.out.write(self._text_line(width) + "\n" + self.status[:width])
        self.out.flush()
        self._drawn = True

    def _text_line(self, width: int) -> str:
        """The newest `width` characters of the segment in progress, its unfinished word dimmed."""
        tail = (" " if self.committed and self.tail else "") + self.tail
        committed = self.committed[max(0, len(self.committed) - max(0, width - len(tail))) :]
        return committed + DIM + tail[-width:] + RESET


def make_display(out: TextIO, jsonl: bool) -> JsonLines | PlainLines | Terminal:
    if jsonl:
        return JsonLines(out)
    return Terminal(out) if out.isatty() else PlainLines(out)

"""A sound file played into the queue as a microphone would deliver it: block by block, at real-time speed
(or `speed` times it), from its own thread. `speed=0` plays as fast as the model takes the blocks.

At a real-time speed the player keeps its clock whatever the model does, and a full queue drops blocks, as a
sound card would. At speed 0 there is no clock to keep, so it waits for room instead: every block arrives.
The file is read block by block, so an hour-long file costs no more memory than a short one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from speech_proactive import audio
from speech_proactive.apps.live.blocks import Block, BlockQueue


class FileSource:
    def __init__(self, path: Path, block_ms: float, queue: BlockQueue, speed: float = 1.0):
        import soundfile as sf

        if speed < 0:
            raise ValueError(f"--speed {speed}: give a positive factor of real time, or 0 for as fast as possible")
        path = Path(path)
        if not path.is_file():
            raise audio.AudioError(f"{path}: {'is a directory, not a sound file' if path.is_dir() else 'no such file'}")
        try:
            self._file = sf.SoundFile(str(path))
        except (RuntimeError, sf.LibsndfileError) as e:
            raise audio.AudioError(f"{path}: unreadable or corrupt audio ({e})") from e
        self.path = path
        self.sample_rate = self._file.samplerate
        self.block_frames = max(1, round(block_ms * self.sample_rate / 1000))
        self.block_s = self.block_frames / self.sample_rate
        self.queue = queue
        self.speed = speed
        self.error: Exception | None = None  # a read failure mid-file, reported after the run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="file-source", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Until the whole file was played (or `timeout_s`); True if it was."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop playing (Ctrl-C); the queue is closed after the last block put."""
        self._stop.set()
        self._thread.join()

    @property
    def n_device_overflows(self) -> int:
        return 0  # no device: the only losses are the queue's

    def _play(self) -> None:
        try:
            self._put_blocks()
        except Exception as e:  # reported by the main thread; the model thread still flushes what it got
            self.error = audio.AudioError(f"{self.path}: read failed mid-file ({e})")
        finally:
            self._file.close()
            self.queue.close()

    def _put_blocks(self) -> None:
        t0 = time.monotonic()
        for index, samples in enumerate(self._file.blocks(self.block_frames, dtype="float32", always_2d=True)):
            if self._stop.is_set():
                return
            if self.speed == 0:
                if not self.queue.put_wait(Block(index, samples, self.sample_rate, None), self._stop):
                    return
                continue
            captured_s = t0 + (index * self.block_s + len(samples) / self.sample_rate) / self.speed
            if self._stop.wait(max(0.0, captured_s - time.monotonic())):
                return
            self.queue.offer(Block(index, samples, self.sample_rate, captured_s))

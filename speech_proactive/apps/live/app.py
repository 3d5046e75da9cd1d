"""Put the live demo together and run it: the source's capture thread, the model thread, and the main thread
that only waits, so that Ctrl-C reaches it and never lands inside a model call.

Ctrl-C stops the capture; the model thread then takes the blocks still queued, flushes the segment in
progress and reports the summary. A second Ctrl-C leaves at once, without the flush.
"""

from __future__ import annotations

import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from speech_proactive.apps.live import microphone
from speech_proactive.apps.live.blocks import BlockQueue
from speech_proactive.apps.live.convert import ToModelAudio
from speech_proactive.apps.live.display import PlainLines, make_display
from speech_proactive.apps.live.file_source import FileSource
from speech_proactive.apps.live.recorder import AudioRecorder
from speech_proactive.apps.live.runner import Runner, Sink
from speech_proactive.config import TaskSpec
from speech_proactive.model.bundle import BundleError, read_manifest
from speech_proactive.streaming.events import Summary
from speech_proactive.streaming.from_bundle import open_bundle
from speech_proactive.streaming.segmenter import Segmenter, SegmenterConfig
from speech_proactive.streaming.session import Session
from speech_proactive.training.augment import quiet_warning

WAIT_POLL_S = 0.2  # the main thread wakes this often, so Ctrl-C is handled at once


class Source(Protocol):
    sample_rate: int
    error: Exception | None

    @property
    def n_device_overflows(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class LiveConfig:
    model: Path  # bundle folder
    policy: str = "entropy:q0.9"  # policy_spec syntax; a qQ threshold is calibrated once, kept in the bundle
    task: TaskSpec = TaskSpec()
    wav: Path | None = None  # play this file instead of recording the microphone
    speed: float = 1.0  # file playback speed: 1 = real time, 0 = as fast as the model goes
    device: int | None = None  # input device index (sounddevice numbering); None: the default input
    queue_blocks: int = 16  # capture queue, in chunks: 16 x 320 ms = 5 s of audio before blocks are dropped
    segmenter: SegmenterConfig = SegmenterConfig()
    jsonl: bool = False
    save_audio: Path | None = None
    save_transcript: Path | None = None


def load_session(cfg: LiveConfig) -> Session:
    if warning := quiet_warning(read_manifest(cfg.model).get("meta", {})):
        print(f"note: {warning}", file=sys.stderr)
    try:
        bundle = open_bundle(cfg.model, cfg.policy)
    except BundleError:
        raise  # not a policy problem: the hint below would mislead
    except ValueError as e:
        raise ValueError(f"{e} (or choose a policy without a calibrated threshold, e.g. --policy wait-k:3)") from e
    return bundle.session(cfg.task)


def open_source(cfg: LiveConfig, mic: microphone.MicSettings | None, block_ms: float, queue: BlockQueue) -> Source:
    if cfg.wav is not None:
        return FileSource(cfg.wav, block_ms, queue, cfg.speed)
    return microphone.MicSource(mic, block_ms, queue)


@dataclass
class Live:
    """A demo ready to run: nothing captured yet."""

    runner: Runner
    source: Source
    outputs: ExitStack  # transcript and audio files, closed when the run ends


def prepare(
    cfg: LiveConfig,
    session: Session,
    mic: microphone.MicSettings | None,
    out: TextIO,
    extra_sinks: tuple[Sink, ...] = (),
) -> Live:
    """Check the settings and open the source and the output files; errors here mean the demo cannot start."""
    block_ms = session.model.cfg.encoder.chunk_ms  # one block is one encoder chunk: the queue counts chunks
    segmenter = Segmenter(session, cfg.segmenter)
    queue = BlockQueue(cfg.queue_blocks)
    source = open_source(cfg, mic, block_ms, queue)
    outputs = ExitStack()
    with outputs:  # closes what was opened if a later file fails to open
        sinks: list[Sink] = [make_display(out, cfg.jsonl), *extra_sinks]
        if cfg.save_transcript is not None:
            sinks.append(
                PlainLines(outputs.enter_context(open(cfg.save_transcript, "w", encoding="utf-8")), summary=False)
            )
        recorder = None
        if cfg.save_audio is not None:
            recorder = AudioRecorder(cfg.save_audio)
            outputs.callback(recorder.close)
        runner = Runner(
            queue,
            ToModelAudio(source.sample_rate, str(cfg.wav or "microphone")),
            segmenter,
            sinks,
            block_ms,
            lambda: source.n_device_overflows,
            recorder,
        )
        return Live(runner, source, outputs.pop_all())


def run(live: Live) -> Summary:
    """Play the source through the model until it ends or Ctrl-C; the summary."""
    with live.outputs:
        return _run_threads(live.runner, live.source)


def _run_threads(runner: Runner, source: Source) -> Summary:
    result: dict[str, object] = {}
    done = threading.Event()

    def model_loop() -> None:
        try:
            result["summary"] = runner.run()
        except BaseException as e:  # handed to the main thread, which raises it
            result["error"] = e
        finally:
            done.set()

    # The main thread waits on an Event, not on Thread.join: a Ctrl-C inside join() can leave the thread
    # marked dead while it still runs (CPython gh-90882; it happened here on 3.11), losing the flush.
    threading.Thread(target=model_loop, name="model", daemon=True).start()
    try:
        source.start()
    except KeyboardInterrupt:
        _interrupt(runner, source)
    except BaseException:
        runner.queue.close()  # the model thread ends at once
        done.wait()
        raise
    while not done.is_set():
        try:
            done.wait(WAIT_POLL_S)
        except KeyboardInterrupt:
            if runner.interrupted.is_set():
                raise  # a second Ctrl-C: leave without waiting for the flush
            _interrupt(runner, source)
    if "error" in result:
        raise result["error"]
    return result["summary"]


def _interrupt(runner: Runner, source: Source) -> None:
    """Ctrl-C: stop capturing; the model thread takes what is queued, flushes and ends."""
    runner.interrupted.set()
    source.stop()

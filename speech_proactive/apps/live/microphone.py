"""The system microphone through sounddevice (PortAudio): pick a device, then capture blocks into the queue.

16 kHz mono is asked for first; a device that cannot give it is opened at its own default rate (mono, else
stereo) and the model thread converts. The callback only copies the block and offers it to the queue: it
never waits, never converts, never touches the model. sounddevice is imported only here, when needed: on a
machine without PortAudio or a sound card everything else still works (`--wav`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from speech_proactive import audio
from speech_proactive.apps.live.blocks import Block, BlockQueue

HOW_TO_CHOOSE = "list the devices with --list-devices and pick one with --device N, or play a file with --wav FILE"


class NoMicrophone(Exception):
    """No usable input device; the message is one line that says what to do."""


@dataclass(frozen=True)
class MicSettings:
    device: int
    name: str
    sample_rate: int
    channels: int


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:  # the package is there but the PortAudio library is not
        raise NoMicrophone(f"no audio system ({e}); {HOW_TO_CHOOSE}") from e
    return sounddevice


def _devices(sd) -> list[dict]:
    try:
        return list(sd.query_devices())
    except sd.PortAudioError as e:
        raise NoMicrophone(f"the audio system found no devices ({e}); {HOW_TO_CHOOSE}") from e


def describe_devices() -> str:
    """The input devices, one per line; '*' marks the one used without --device."""
    sd = _sounddevice()
    devices = _devices(sd)
    inputs = _inputs(devices)
    if not inputs:
        raise NoMicrophone("no input devices found; play a file with --wav FILE")
    chosen = _default_input(sd, inputs)
    return "\n".join(
        f"{'*' if i == chosen else ' '} {i:3d}  {d['name']}  ({d['max_input_channels']} ch, "
        f"{d['default_samplerate']:g} Hz)"
        for i, d in ((i, devices[i]) for i in inputs)
    )


def _inputs(devices: list[dict]) -> list[int]:
    return [i for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]


def _default_input(sd, inputs: list[int]) -> int:
    """The system's default input device, or the first input when it names none (-1)."""
    try:
        default = sd.default.device[0]
    except (TypeError, IndexError, AttributeError):
        default = None
    return default if default in inputs else inputs[0]


def probe(device: int | None = None) -> MicSettings:
    """The device to record from (the default input unless `device`) and settings it accepts."""
    sd = _sounddevice()
    devices = _devices(sd)
    inputs = _inputs(devices)
    if not inputs:
        raise NoMicrophone(f"no microphone found; {HOW_TO_CHOOSE}")
    if device is None:
        device = _default_input(sd, inputs)
    elif device not in inputs:
        raise NoMicrophone(f"device {device} is not an input device; {HOW_TO_CHOOSE}")
    info = devices[device]
    native_rate = int(info.get("default_samplerate") or audio.SAMPLE_RATE)
    for rate, channels in ((audio.SAMPLE_RATE, 1), (native_rate, 1), (native_rate, min(2, info["max_input_channels"]))):
        try:
            sd.check_input_settings(device=device, samplerate=rate, channels=channels, dtype="float32")
        except (sd.PortAudioError, ValueError):
            continue
        return MicSettings(device, str(info.get("name", device)), rate, channels)
    raise NoMicrophone(
        f"device {device} ({info.get('name')}) accepts neither 16 kHz mono nor its own "
        f"{native_rate} Hz; {HOW_TO_CHOOSE}"
    )


class MicSource:
    def __init__(self, settings: MicSettings, block_ms: float, queue: BlockQueue):
        self.settings = settings
        self.sample_rate = settings.sample_rate
        self.block_frames = max(1, round(block_ms * settings.sample_rate / 1000))
        self.queue = queue
        self.n_device_overflows = 0  # blocks PortAudio flagged: samples lost before they reached us
        self.error: Exception | None = None  # nothing fails mid-stream here that is not a device error at start
        self._n_blocks = 0
        self._stream = None

    def start(self) -> None:
        sd = _sounddevice()
        s = self.settings
        try:
            self._stream = sd.InputStream(
                device=s.device,
                samplerate=s.sample_rate,
                channels=s.channels,
                dtype="float32",
                blocksize=self.block_frames,
                callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as e:
            raise NoMicrophone(f"device {s.device} ({s.name}) could not be opened ({e}); {HOW_TO_CHOOSE}") from e

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
        self.queue.close()

    def _callback(self, indata, frames: int, time_info, status) -> None:
        # PortAudio's thread: copy (it reuses the buffer) and offer; a full queue drops and counts.
        if getattr(status, "input_overflow", False):
            self.n_device_overflows += 1
        self.queue.offer(Block(self._n_blocks, indata.copy(), self.sample_rate, time.monotonic()))
        self._n_blocks += 1

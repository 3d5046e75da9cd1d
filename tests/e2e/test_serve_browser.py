"""The page in a real headless Chromium (Debian's, driven by selenium through Debian's chromedriver; nothing
downloaded): Chromium's fake microphone plays a WAV, the page's own capture code (getUserMedia, the AudioWorklet,
16 kHz PCM) streams it to the server, and the page shows what comes back."""

from __future__ import annotations

import contextlib
import json
import shutil
import time

import numpy as np
import pytest
from helpers import tiny_model
from test_serve import ServerThread

from speech_proactive import audio
from speech_proactive.model.bundle import save_bundle

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="Debian's chromium and chromium-driver (make setup installs them)"
)


def browser(fake_wav):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={fake_wav}%noloop",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1000,700"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


FINAL_JS = "const d = document.getElementById('transcript').dataset; return d.final !== undefined && {...d}"


@contextlib.contextmanager
def page(tmp_path, fake_mic):
    """A server on a tiny en->de bundle and a headless Chromium whose microphone plays `fake_mic`, on its page once
    the directions have come from /info."""
    bundle = save_bundle(
        tiny_model(), tmp_path / "b", meta={"tasks": [{"task": "st", "src_lang": "en", "tgt_lang": "de"}]}
    )
    server = ServerThread(bundle)
    driver = browser(fake_mic)
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        wait_for(lambda: driver.execute_script("return document.querySelectorAll('#direction option').length"), 30,
                 "the directions from /info")  # fmt: skip
        yield driver
    finally:
        driver.quit()
        server.stop()


def speech_with_pauses(speech, pause_ms: float) -> tuple[np.ndarray, float]:
    """Pause, speech, pause, speech, pause; and its length in ms."""
    quiet = np.zeros(audio.ms_to_samples(pause_ms), np.float32)
    x = np.concatenate([quiet, speech, quiet, speech, quiet])
    return x, audio.samples_to_ms(len(x))


@needs_chromium
def test_the_page_streams_the_microphone_and_shows_the_words(tmp_path, speech):
    fake = tmp_path / "mic.wav"
    x, played_ms = speech_with_pauses(speech, 1000)
    audio.write_wav(fake, x)
    with page(tmp_path, fake) as driver:
        assert driver.execute_script("return document.getElementById('direction').value") == "en>de"
        driver.find_element("id", "start").click()
        words = wait_for(lambda: driver.find_element("id", "transcript").text.strip(), 60, "words on the page")
        assert words, "the random model writes something once the gate hears speech"
        time.sleep(played_ms / 1000 + 1.0)  # the fake microphone plays the file in real time
        driver.find_element("id", "stop").click()
        final = wait_for(lambda: driver.execute_script(FINAL_JS), 60, "the final event")
        assert int(final["segments"]) >= 1, "Silero heard the speech that the page captured"
        assert float(final["durationMs"]) >= 0.9 * played_ms, "the page streamed the whole file"
        assert driver.find_element("id", "error").text == ""
        stats = driver.find_element("id", "stats").text
        assert "lag behind real time" in stats and "ms" in stats
        driver.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 1000
        print(json.dumps({"page_text": words, "final": final}))


@needs_chromium
def test_the_page_plays_a_file_through_the_same_path(tmp_path, speech):
    """ "Play a file": the page decodes the chosen WAV, plays it through the same worklet and socket, and stops
    by itself at its end; the final event covers the whole file."""
    played = tmp_path / "played.wav"
    x, played_ms = speech_with_pauses(speech, 500)
    audio.write_wav(played, x)
    silent_mic = tmp_path / "mic.wav"
    audio.write_wav(silent_mic, np.zeros(audio.ms_to_samples(100), np.float32))
    with page(tmp_path, silent_mic) as driver:
        driver.find_element("id", "file").send_keys(str(played))  # choosing the file starts it
        final = wait_for(lambda: driver.execute_script(FINAL_JS), played_ms / 1000 + 60, "the final event")
        assert int(final["segments"]) >= 1, "the gate heard the file's speech"
        assert float(final["durationMs"]) >= 0.9 * played_ms, "the page streamed the whole file, then stopped"
        assert driver.find_element("id", "transcript").text.strip(), "the random model writes something"
        assert driver.find_element("id", "error").text == ""
        assert driver.find_element("id", "start").is_enabled(), "the page is ready for the next stream"

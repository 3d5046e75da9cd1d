"""The served page in a real headless Chromium, fed a WAV as its microphone: what it shows, and a screenshot.

    .venv/bin/python scripts/serve_screenshot.py --model runs/st-default/bundle --wav A.wav [B.wav ...] \
        --direction de>en [--policy probe:q0.9] [--out docs/serve.png]

The files are joined with 1 s of silence between them and played by Chromium's fake audio device
(`--use-file-for-fake-audio-capture`); the page's own capture code streams them to `python -m
speech_proactive.serve`. Prints the words the page showed and the final event's text.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speech_proactive import audio  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--wav", type=Path, nargs="+", required=True)
    p.add_argument("--direction", default="de>en")
    p.add_argument("--policy", default="probe:q0.9")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "serve.png")
    args = p.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import Select

    pause = np.zeros(audio.SAMPLE_RATE, np.float32)
    joined = np.concatenate([pause] + [np.concatenate([audio.load_audio(w), pause]) for w in args.wav])
    with tempfile.TemporaryDirectory() as tmp:
        mic = Path(tmp) / "mic.wav"
        audio.write_wav(mic, joined)
        server = subprocess.Popen(
            [sys.executable, "-m", "speech_proactive.serve", "--model", str(args.model), "--port", "0",
             "--policy", args.policy], cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        port = int(server.stdout.readline().split(":")[2].split("/")[0])
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        flags = ["--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream", "--window-size=1000,640",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={mic}%noloop"]  # fmt: skip
        for flag in flags:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            time.sleep(2)
            Select(driver.find_element("id", "direction")).select_by_value(args.direction)
            driver.find_element("id", "start").click()
            time.sleep(audio.samples_to_ms(len(joined)) / 1000 + 1.5)
            shown = driver.find_element("id", "transcript").text
            driver.save_screenshot(str(args.out))
            driver.find_element("id", "stop").click()
            time.sleep(3)
            final = driver.execute_script("return document.getElementById('transcript').dataset.final")
            print(f"shown while streaming:\n{shown}\nfinal: {final}\nscreenshot: {args.out}")
        finally:
            driver.quit()
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

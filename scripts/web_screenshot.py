"""The README's screenshot of ``motiongan web`` with the shipped generator: serves the page on 127.0.0.1,
animates scikit-image's astronaut with the first frames of the shipped demo track (side by side) in
Debian's headless Chromium through Playwright, and saves the full page.

    python scripts/web_screenshot.py [--out docs/web.png] [--frames 50] [--checkpoint PATH]
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from skimage import data

from motiongan.media import atomic_write_bytes, write_image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MOTIONGAN_CHROMIUM", "/usr/bin/chromium")
SEEK_AND_PAUSE = """async (sel) => {
    const v = document.querySelector(sel);
    v.muted = true;
    if (v.readyState < 2) await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
    v.currentTime = v.duration * 0.6;
    await new Promise(r => v.addEventListener('seeked', r, {once: true}));
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, checkpoint: str | None, log) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "motiongan.cli", "web", "--port", str(port)]
    proc = subprocess.Popen(cmd + (["--checkpoint", checkpoint] if checkpoint else []), stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(f"motiongan web exited with code {proc.returncode}:\n{log.read()[-2000:]}") from None
            time.sleep(1)
    proc.kill()
    raise SystemExit("motiongan web did not answer within 180 s")


def _shoot(url: str, photo: Path, track: Path, out: Path, frames: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_selector("#animate-run")
        page.set_input_files("#animate-photo input[type=file]", str(photo))
        page.set_input_files("#animate-driving input[type=file]", str(track))
        page.wait_for_selector("#animate-driving a[href]")
        page.get_by_label("Side by side").check()
        page.click("#animate-run")
        page.get_by_text(f"{frames} frames at 25 fps").wait_for()
        page.evaluate(SEEK_AND_PAUSE, "#animate-video video")
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "web.png"))
    ap.add_argument("--frames", type=int, default=50, help="frames of the demo track to animate")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped generator")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_image(d / "astronaut.png", data.astronaut())
        np.save(d / "demo_track.npy", np.load(ROOT / "motiongan" / "assets" / "demo_track.npy")[:args.frames])
        port = _free_port()
        with open(d / "server.log", "w+") as log:
            proc = _serve(port, args.checkpoint, log)
            try:
                _shoot(f"http://127.0.0.1:{port}/", d / "astronaut.png", d / "demo_track.npy", d / "web.png",
                       args.frames)
            finally:
                proc.terminate()
                proc.wait(30)
        atomic_write_bytes(args.out, (d / "web.png").read_bytes())
    print(f"{args.out}: written")


if __name__ == "__main__":
    main()

"""The caregiver's page end to end: a real `assistant run --realtime --web` of a street scene, its
profile changed from the editor in chromium, and the change seen in what the running assistant says
next. Frames come from a still photo of a street (cars, and a truck on the left) made into a video,
so what the detector sees does not depend on the moment the page acts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import IMAGES, ROOT
from .web_browser import browser, screenshot, serious_violations, wait_until
from .web_serving import free_port, wait_for_port

pytestmark = pytest.mark.xdist_group("realtime")

PROFILE = """# Dad's street profile: written by hand; the page must keep these comments.
name: dad
language: en  # English at home
objects:
  person: {priority: 5}
  car: {priority: 7}  # parked cars matter most
"""
SENTENCES = "document.querySelectorAll('#sentences p')"


@pytest.fixture(scope="module")
def street_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The street photo as a 2-minute video at 5 frames a second (ffmpeg; .ci/run installs it)."""
    video = tmp_path_factory.mktemp("scene") / "street.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-loop", "1", "-i", str(IMAGES / "pytorchyolov3_street.jpg"),
                    "-t", "120", "-r", "5", "-pix_fmt", "yuv420p", str(video)], check=True, timeout=120)
    return video


@pytest.fixture(scope="module")
def running(street_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`assistant run --realtime --web` on the scene with the caregiver's own profile: the page's
    address and the profile's file."""
    profile = tmp_path_factory.mktemp("profiles") / "dad.yaml"
    profile.write_text(PROFILE)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(street_scene), "--realtime", "--speech", "none",
         "--profile", str(profile), "--web", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ), start_new_session=True)
    wait_for_port(port, process)
    try:
        yield f"http://127.0.0.1:{port}", profile
    finally:
        process.terminate()
        process.wait(10)


def said(page) -> list[dict]:
    """The sentences in the live region: text, language and the line above it (time, kind, priority)."""
    return page.evaluate(f"""[...{SENTENCES}].map(p => ({{
        text: p.lastChild.textContent, lang: p.lang, meta: p.firstChild.textContent}}))""")


def save(editor) -> None:
    with editor.expect_response(lambda r: "/api/profiles/" in r.url and r.request.method == "PUT") as put:
        editor.locator("#save").click()
    assert put.value.status == 200, put.value.text()


def test_a_saved_change_is_heard_in_what_the_running_assistant_says_next(running: tuple[str, Path]) -> None:
    url, profile = running
    with browser() as chromium:
        live = chromium.new_page(viewport={"width": 1280, "height": 900})
        live.goto(url + "/")
        wait_until(live, f"{SENTENCES}.length > 0", 60)
        assert "car" in said(live)[0]["text"] and "truck" not in " ".join(s["text"] for s in said(live))

        editor = chromium.new_page(viewport={"width": 1100, "height": 900})
        editor.goto(url + "/profile")
        editor.wait_for_selector("details[data-label='car']")
        editor.locator("#add-class").select_option("truck")
        editor.locator("#add-object").click()
        truck = editor.locator("details[data-label='truck']")
        if truck.get_attribute("open") is None:
            truck.locator("summary").click()
        truck.get_by_label("Hazard", exact=True).select_option(label="yes")
        before = len(said(live))
        save(editor)
        wait_until(live, f"[...{SENTENCES}].slice({before}).some(p => p.textContent.includes('truck'))", 30)
        warned = next(s for s in said(live)[before:] if "truck" in s["text"])
        assert warned["meta"].endswith("· new · hazard")  # a hazard's sentence: it may cut in
        text = profile.read_text()
        assert "# Dad's street profile: written by hand" in text and "# parked cars matter most" in text
        assert "truck" in text and "hazard: true" in text

        editor.get_by_label("Language", exact=True).select_option("es")
        save(editor)
        assert "language: es  # English at home" in profile.read_text()
        screenshot(editor, "page-saved-spanish")
        before = len(said(live))
        time.sleep(1.0)  # the profile watcher polls four times a second; the reload applies between frames
        live.get_by_role("button", name="Describe now").click()
        wait_until(live, f"{SENTENCES}.length > {before} && [...{SENTENCES}].slice({before}).some(p => p.lang === 'es')", 20)
        spanish = next(s for s in said(live)[before:] if s["lang"] == "es")
        assert "coche" in spanish["text"] or "camión" in spanish["text"], spanish
        assert serious_violations(live) == []
        screenshot(live, "page-after-changes")

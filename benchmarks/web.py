"""The caregiver's page against the loop: does watching it slow the assistant down?

On the car video read as a file (not in real time, so fps is the loop's capacity), in one process,
interleaved: the loop with no server (as `assistant run`, and with every class asked for down to
--candidates as under --web), then with the page's server and 0, 1 and 5 viewers. A viewer is a
process polling the frame 4 times a second and the status once a second, as the page does. Also: the
time from a frame's capture to its image served to a viewer (p50, p95), the page's load time in
chromium, the server's memory, and its own CPU (with the loop replaced by a steady feed of
reports). Prints one line per run, then one JSON object. Usage:
    python benchmarks/web.py [--video PATH] [--repeat N] [--max-frames N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import multiprocessing.synchronize
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shared import ROOT, SHARED  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.config.rules import Rules, load_rules  # noqa: E402
from assistant.runtime.frame_report import FrameReport  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.backends import NullBackend  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.web.app import create_app  # noqa: E402
from assistant.web.context import WebContext  # noqa: E402
from assistant.web.live import LiveFeed, calibration_line  # noqa: E402
from assistant.web.security import Guard  # noqa: E402
from assistant.web.server import WebServer  # noqa: E402

FRAME_S, LIVE_S = 0.25, 1.0  # the page's polling (static/live.js)
CANDIDATES = 0.1  # --candidates' default, which --web asks the detector for
VIEWERS = (0, 1, 5)


def cpu_s() -> float:
    """CPU seconds this process has used (every thread; not its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_rss(peaks: dict[str, float], name: str) -> Iterator[None]:
    """Sample this process's resident memory while inside, and keep the largest seen under `name`."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peaks[name] = max(peaks.get(name, 0.0), rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()


@contextmanager
def serving(ctx: WebContext) -> Iterator[str]:
    """The page's app on loopback on its own thread, as `run --web` serves it; its address."""
    server = WebServer(create_app(ctx, Guard()), "127.0.0.1", 0)
    server.start()
    try:
        yield server.url.rstrip("/")
    finally:
        server.stop()


def viewer(port: int, stop: multiprocessing.synchronize.Event, results: multiprocessing.Queue) -> None:
    """A browser's share of the work, in a process of its own as a phone's would be: the frame 4 times
    a second, the status and sentences once a second, over one kept-alive connection. For each new
    frame, how long after its capture its image arrived: the frame's age when the server answered
    plus the whole request's time, so an upper bound. Puts the list on `results` when stopped."""
    results.put("ready")  # imported: the loop may start
    latencies_ms: list[float] = []
    last_index, seq, next_live = None, 0, 0.0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(path: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection.request("GET", path)
        response = connection.getresponse()
        return response, response.read()

    while not stop.is_set():
        started = time.monotonic()
        response, _ = get("/api/frame.jpg")
        if response.status == 200 and response.getheader("X-Frame-Index") != last_index:
            last_index = response.getheader("X-Frame-Index")
            latencies_ms.append(float(response.getheader("X-Frame-Age-Ms")) + (time.monotonic() - started) * 1000)
        if started >= next_live:
            sentences = json.loads(get(f"/api/live?after={seq}")[1])["sentences"]
            seq = sentences[-1]["seq"] if sentences else seq
            next_live = started + LIVE_S
        stop.wait(max(0.0, FRAME_S - (time.monotonic() - started)))
    connection.close()
    results.put(latencies_ms)


def loop_fps(video: Path, model: Path, rules: Rules, max_frames: int | None, candidates: float | None,
             on_frame: Callable[[FrameReport], None] | None = None, stop: threading.Event | None = None) -> float:
    """The whole loop's frames a second on the video, silent."""
    speaker = Speaker(NullBackend())
    options = RunOptions(max_frames=max_frames, on_frame=on_frame, candidates=candidates,
                         stop=stop or threading.Event())
    with open_source(str(video)) as source:
        stats = run(source, mediapipe_detectors(model), rules, speaker, options)
    speaker.close(drain=False)
    return stats.fps


def watched_fps(video: Path, model: Path, rules: Rules, max_frames: int | None, viewers: int,
                latencies_ms: list[float]) -> float:
    """The loop's fps with the page served and `viewers` polling it."""
    feed = LiveFeed(rules, model.name, calibration_line(rules.calibration))
    ctx = WebContext(None, model, (), rules.calibration, live=feed)
    spawn = multiprocessing.get_context("spawn")
    stop, results = spawn.Event(), spawn.Queue()
    with serving(ctx) as url:
        port = int(url.rsplit(":", 1)[1])
        processes = [spawn.Process(target=viewer, args=(port, stop, results)) for _ in range(viewers)]
        for process in processes:
            process.start()
        for _ in processes:
            assert results.get(timeout=120) == "ready"
        try:
            return loop_fps(video, model, rules, max_frames, CANDIDATES, feed.observe)
        finally:
            stop.set()
            for _ in processes:
                latencies_ms.extend(results.get(timeout=30))
            for process in processes:
                process.join()


def server_cpu(video: Path, model: Path, rules: Rules, viewers: int, seconds: float = 10.0,
               fps: float = 7.0) -> float:
    """The server's own CPU, in percent of a core, with `viewers` polling: the loop replaced by real
    reports handed to the feed `fps` times a second, so nothing else in this process is working."""
    spawn = multiprocessing.get_context("spawn")
    reports: list[FrameReport] = []
    loop_fps(video, model, rules, 30, CANDIDATES, reports.append)
    feed = LiveFeed(rules, model.name, calibration_line(rules.calibration))
    feed.observe(reports[0])
    stop, results = spawn.Event(), spawn.Queue()
    with serving(WebContext(None, model, (), rules.calibration, live=feed)) as url:
        processes = [spawn.Process(target=viewer, args=(int(url.rsplit(":", 1)[1]), stop, results))
                     for _ in range(viewers)]
        for process in processes:
            process.start()
        for _ in processes:
            assert results.get(timeout=120) == "ready"
        start_cpu, start, n = cpu_s(), time.monotonic(), 0
        while time.monotonic() - start < seconds:
            feed.observe(reports[n % len(reports)])
            n += 1
            time.sleep(1 / fps)
        used = cpu_s() - start_cpu
        stop.set()
        for _ in processes:
            results.get(timeout=30)
        for process in processes:
            process.join()
    return used / seconds * 100


def page_load(video: Path, model: Path, rules: Rules, loads: int = 3) -> tuple[float, float]:
    """Median milliseconds, in chromium, from asking for the page to its load event, and to its first frame shown."""
    sys.path.insert(0, str(ROOT))
    from tests.web_browser import browser, wait_until

    feed = LiveFeed(rules, model.name, calibration_line(rules.calibration))
    stop = threading.Event()
    loop = threading.Thread(target=loop_fps, args=(video, model, rules, None, CANDIDATES, feed.observe, stop))
    to_load, to_frame = [], []
    with serving(WebContext(None, model, (), rules.calibration, live=feed)) as url:
        loop.start()
        try:
            while feed.latest() is None:
                time.sleep(0.05)
            with browser() as chromium:
                for _ in range(loads + 1):  # the first warms chromium up and is not counted
                    page = chromium.new_page()
                    started = time.perf_counter()
                    page.goto(url + "/", wait_until="load")
                    loaded = time.perf_counter()
                    wait_until(page, "document.getElementById('view').src.startsWith('blob:')")
                    to_load.append((loaded - started) * 1000)
                    to_frame.append((time.perf_counter() - started) * 1000)
                    page.close()
        finally:
            stop.set()
            loop.join()
    return statistics.median(to_load[1:]), statistics.median(to_frame[1:])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "data" / "video" / "car-detection.mp4")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every run, interleaved; the best is kept")
    parser.add_argument("--max-frames", type=int, help="frames per run (default: the whole video)")
    args = parser.parse_args()
    model = models.resolve()
    rules = load_rules()
    best: dict[str, float] = {}
    latencies: dict[int, list[float]] = {n: [] for n in VIEWERS}
    rss: dict[str, float] = {}
    cpu: dict[str, float] = {}  # this process's CPU seconds (the loop and the server, not the viewers)

    def keep(name: str, measure: Callable[[], float], round_: int) -> None:
        peaks: dict[str, float] = {}
        start_cpu = cpu_s()
        with peak_rss(peaks, name):
            fps = measure()
        used = cpu_s() - start_cpu
        best[name] = max(best.get(name, 0.0), fps)
        cpu[name] = min(cpu.get(name, used), used)
        if round_ == 0:  # later rounds start from the memory the earlier ones left
            rss[name] = peaks[name]
        print(f"round {round_ + 1}: {name} {fps:.2f} fps, {used:.1f} CPU s, peak RSS {peaks[name]:.0f} MB",
              file=sys.stderr)

    video, frames = args.video, args.max_frames
    for round_ in range(args.repeat):
        keep("no_server", lambda: loop_fps(video, model, rules, frames, None), round_)
        keep("no_server_candidates", lambda: loop_fps(video, model, rules, frames, CANDIDATES), round_)
        for n in VIEWERS:
            keep(f"viewers_{n}", lambda: watched_fps(video, model, rules, frames, n, latencies[n]), round_)
    load_ms, first_frame_ms = page_load(args.video, model, rules)
    server_cpu_pct = {n: server_cpu(args.video, model, rules, n) for n in VIEWERS}
    served = latencies[1] + latencies[5]
    print(json.dumps({
        "video": args.video.name,
        "model": model.name,
        **{f"{name}_fps": round(fps, 2) for name, fps in best.items()},
        "candidates_vs_no_server": round(best["no_server_candidates"] / best["no_server"], 3),
        **{f"viewers_{n}_vs_no_server": round(best[f"viewers_{n}"] / best["no_server_candidates"], 3)
           for n in VIEWERS},  # the same detector settings, so this is the server's and the viewers' cost
        # CPU is steadier than fps on a shared machine: the same frames, the same detector settings
        **{f"viewers_{n}_cpu_vs_no_server": round(cpu[f"viewers_{n}"] / cpu["no_server_candidates"], 3)
           for n in VIEWERS},
        **{f"server_cpu_pct_of_a_core_{n}_viewers": round(pct, 1) for n, pct in server_cpu_pct.items()},
        "capture_to_served_ms_p50": percentile(served, 50),
        "capture_to_served_ms_p95": percentile(served, 95),
        "images_served": len(served),
        "page_load_ms": round(load_ms, 1),
        "page_first_frame_ms": round(first_frame_ms, 1),
        "peak_rss_no_server_mb": round(rss["no_server_candidates"], 1),  # round 1's peaks
        "rss_delta_server_0_viewers_mb": round(rss["viewers_0"] - rss["no_server_candidates"], 1),
        "rss_delta_server_5_viewers_mb": round(rss["viewers_5"] - rss["no_server_candidates"], 1),
    }))


if __name__ == "__main__":
    main()

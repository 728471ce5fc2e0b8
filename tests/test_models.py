"""Model registry: the manifest, resolution order, verification, and downloads from a local server."""

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.config import models
from assistant.errors import ModelError

from .conftest import MODEL, ROOT

LOCAL = "ssd_mobilenet_v2_fpnlite_320"


def test_manifest_lists_official_models_first_with_developers_md_values() -> None:
    known, default = models.load_manifest()
    by_name = {m.name: m for m in known}
    assert default == "ssd_mobilenet_v2"
    f32, f16, local = by_name["ssd_mobilenet_v2"], by_name["ssd_mobilenet_v2_float16"], by_name[LOCAL]
    assert (f32.size, f32.sha256) == (11316189, "b8ccb1a25d45455ba52e85f26531948e1cb75efeb94c7c3d456d54fd4d6fbdd2")
    assert f32.url.endswith("/ssd_mobilenet_v2/float32/1/ssd_mobilenet_v2.tflite")
    assert (f16.size, f16.sha256) == (5918749, "ee21e12bfdc464100c6008c865ab8294f6a04162e6ed2e11986f1175b02cfab2")
    assert f16.url.endswith("/ssd_mobilenet_v2/float16/1/ssd_mobilenet_v2.tflite")
    assert local.url is None and local.sha256 == models.sha256_of(MODEL)
    assert [m.official for m in known] == sorted((m.official for m in known), reverse=True)


def test_model_dir_env_finds_the_shared_model() -> None:
    assert models.resolve() == MODEL
    assert models.resolve(LOCAL) == MODEL


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "elsewhere" / "mine.tflite"
    copy.parent.mkdir()
    shutil.copy(MODEL, copy)
    assert models.resolve(str(copy)) == copy


def test_user_cache_is_searched_after_the_env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(tmp_path / "empty"))
    cached = models.cache_dir() / MODEL.name
    cached.parent.mkdir(parents=True)
    shutil.copy(MODEL, cached)
    assert models.resolve(LOCAL) == cached


def test_corrupted_copy_fails_its_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / MODEL.name
    data = bytearray(MODEL.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="does not match the checksum .*assistant models fetch"):
        models.resolve(LOCAL)
    with pytest.raises(ModelError, match="checksum"):
        models.resolve(str(bad))
    assert not next(s for s in models.status() if s.info.name == LOCAL).verified


def test_unknown_name_and_missing_path() -> None:
    with pytest.raises(ModelError, match="neither a model file nor a known model name"):
        models.resolve("yolo")
    with pytest.raises(ModelError, match="does not exist"):
        models.resolve("/nowhere/model.tflite")


def test_local_only_model_cannot_be_fetched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="cannot be downloaded"):
        models.resolve(LOCAL)


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a manifest of two small models served from a local HTTP server; return a writer."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "models").mkdir()  # an empty model folder; a missing one is an error
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(tmp_path / "models"))

    def make(files: dict[str, bytes], claimed: dict[str, bytes] | None = None, official: str = "a") -> Path:
        entries = []
        for name, payload in files.items():
            (served / f"{name}.tflite").write_bytes(payload)
            truth = (claimed or {}).get(name, payload)
            entries.append({
                "name": name, "official": name == official, "description": name, "filename": f"{name}.tflite",
                "url": f"http://127.0.0.1:{server.server_port}/{name}.tflite",
                "size": len(truth), "sha256": hashlib.sha256(truth).hexdigest(),
            })
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps({"default": official, "models": entries}))
        monkeypatch.setattr(models, "MANIFEST", path)
        return path

    yield make
    server.shutdown()


def test_download_verifies_and_lands_in_the_cache(manifest) -> None:
    manifest({"a": b"A" * 5000, "b": b"B" * 3000})
    path = models.resolve()  # nothing present: the default is downloaded
    assert path == models.cache_dir() / "a.tflite" and path.read_bytes() == b"A" * 5000
    assert models.resolve() == path  # now found locally


def test_checksum_mismatch_on_download_leaves_no_file(manifest) -> None:
    manifest({"a": b"tampered"}, claimed={"a": b"original"})
    with pytest.raises(ModelError, match="did not match its checksum"):
        models.resolve("a")
    assert not any(models.cache_dir().iterdir())  # no partial or temporary file is left


def test_official_model_preferred_when_several_present(manifest, tmp_path: Path) -> None:
    manifest({"b": b"B" * 10, "a": b"A" * 10}, official="a")
    directory = tmp_path / "models"
    (directory / "a.tflite").write_bytes(b"A" * 10)
    (directory / "b.tflite").write_bytes(b"B" * 10)
    assert models.resolve().name == "a.tflite"


def test_offline_gives_one_clear_sentence(manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    path = manifest({"a": b"A"})
    data = json.loads(path.read_text())
    data["models"][0]["url"] = "http://127.0.0.1:9/a.tflite"  # nothing listens on the discard port
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"Could not download model 'a' \(no internet\?\)") as caught:
        models.resolve()
    assert "\n" not in str(caught.value)
    assert not any(models.cache_dir().iterdir())


def test_labels_come_from_the_model_metadata() -> None:
    labels = models.labels(MODEL)
    assert len(labels) == 91 and labels[0] == "???" and labels[1] == "person" and labels[90] == "toothbrush"


def test_the_installed_command_finds_the_linked_model_without_the_variable() -> None:
    linked = ROOT / "models" / MODEL.name
    if not linked.exists():
        if os.environ.get("CI"):
            raise pytest.UsageError(f"make links {MODEL.name} into models/; it is missing")
        pytest.skip("run through make, which links the shared models into models/")
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_MODEL_DIR"}
    result = subprocess.run([sys.executable, "-m", "assistant", "models", "list"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=60)
    assert f"verified at {linked}" in result.stdout, result.stdout

"""Trained models in the user's model folder: installing, listing, naming with --model, removing, and
what a damaged list or a full disk leaves behind. A copy of the shared model stands in for a trained
one: these tests check the registry's plumbing, not what a model has learnt."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from assistant.config import calibration, models
from assistant.errors import ModelError

from .conftest import IMAGES, MODEL, Cli, run_cli
from .hostile.common import one_error, tmpfs

NAME = "mycoco"
SHIPPED_CALIBRATION = models.MANIFEST.parent / f"{MODEL.stem}{calibration.SUFFIX}"
TRAINING = {"images": 412, "epochs": 30}


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    """A copy of the shared model, somewhere outside the user folder, as a training run would leave it."""
    copy = tmp_path / "export" / "model.tflite"
    copy.parent.mkdir()
    shutil.copyfile(MODEL, copy)
    return copy


def folder_files() -> list[str]:
    """Every name in the user's model folder, hidden temporary files too."""
    return sorted(p.name for p in models.user_dir().iterdir()) if models.user_dir().exists() else []


def test_the_user_folder_follows_the_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(models.USER_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert models.user_dir() == tmp_path / "data" / "assistant" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert models.user_dir() == Path.home() / ".local" / "share" / "assistant" / "models"
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert models.user_dir() == tmp_path / "local" / "assistant" / "models"


def test_no_user_folder_changes_nothing() -> None:
    assert not models.user_dir().exists()  # conftest points every test at a folder not made yet
    assert models.user_models() == () and models.load_manifest() == models.shipped_models()
    dirs = models.search_dirs()
    assert dirs.index(models.user_dir()) == len(dirs) - 2 and dirs[-1] == models.cache_dir()
    assert models.resolve() == MODEL


def test_install_list_resolve_and_remove(trained: Path, cli: Cli) -> None:
    path = models.install(trained, NAME, "COCO again, standing in for a trained model", TRAINING, SHIPPED_CALIBRATION)
    assert path == models.user_dir() / f"{NAME}.tflite" and path.read_bytes() == MODEL.read_bytes()
    assert folder_files() == sorted([f"{NAME}.tflite", f"{NAME}{calibration.SUFFIX}", "manifest.json"])
    (info,) = models.user_models()
    assert (info.name, info.filename, info.sha256, info.size, info.url, info.official, info.training) == (
        NAME, path.name, models.sha256_of(MODEL), MODEL.stat().st_size, None, False, TRAINING)
    assert info.labels == models.labels(MODEL) and info.trained
    assert json.loads((models.user_dir() / "manifest.json").read_text())["models"] == [info.to_json()]
    assert models.load_manifest()[0][-1] == info  # after the shipped ones
    assert models.resolve(NAME) == path
    assert models.resolve() == MODEL  # a trained model is used only when named
    assert calibration.for_model(path).source == models.user_dir() / f"{NAME}{calibration.SUFFIX}"

    listed = cli("models", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    at = lines.index(f"{NAME} (trained, {MODEL.stat().st_size / 1e6:.1f} MB): verified at {path}")
    assert lines[at + 2].startswith("    airplane, apple, backpack,") and lines[at + 2].endswith(
        "toothbrush, traffic light, train, truck, tv, umbrella, vase, wine glass, zebra; trained on 412 photos")
    assert "???" not in lines[at + 2]
    calibrated = models.user_dir() / f"{NAME}{calibration.SUFFIX}"
    assert lines[at + 3] == f"    calibrated ({calibrated}): 0.5 for every class; no class moved from it"
    assert str(models.user_dir()) in lines[-1]  # "Searched: ..."
    in_a_process = run_cli("models", "list")  # a subprocess sees the same (temporary) user folder
    assert f"verified at {path}" in in_a_process.stdout, in_a_process.stderr

    removed = cli("models", "remove", NAME)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"Removed the trained model {NAME} ({path}, {calibrated})."
    assert folder_files() == ["manifest.json"] and models.user_models() == ()
    one_error(cli("models", "remove", NAME), f"There is no trained model '{NAME}'; there are none yet.")
    one_error(cli("models", "remove", "ssd_mobilenet_v2"), "is shipped with the assistant, not trained")


@pytest.mark.parametrize(("name", "fragment"), [
    ("Doors", "lower-case letters"), ("", "lower-case letters"), ("a" * 65, "lower-case letters"),
    ("../doors", "lower-case letters"), ("door s", "lower-case letters"), ("doors.tflite", "lower-case letters"),
    ("ssd_mobilenet_v2", "taken by a model shipped"),
    ("ssd_mobilenet_v2_fpnlite_320_coco", "taken by a model shipped"),  # a shipped model's file name
])
def test_bad_and_shipped_names_are_refused(trained: Path, name: str, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment) as caught:
        models.install(trained, name, "d", TRAINING)
    assert "\n" not in str(caught.value) and folder_files() == []


def test_a_taken_name_is_refused_unless_replaced(trained: Path) -> None:
    models.install(trained, NAME, "first", {"images": 1}, SHIPPED_CALIBRATION)
    with pytest.raises(ModelError, match=f"already a trained model '{NAME}'.*assistant models remove {NAME}"):
        models.install(trained, NAME, "second", {"images": 2})
    assert models.user_models()[0].description == "first"
    models.install(trained, NAME, "second", {"images": 2}, replace=True)
    assert [(m.name, m.description, m.training) for m in models.user_models()] == [(NAME, "second", {"images": 2})]
    assert (models.user_dir() / f"{NAME}{calibration.SUFFIX}").is_file()  # the same bytes: it still fits
    models.install(trained, "other", "another", TRAINING)
    assert [m.name for m in models.user_models()] == [NAME, "other"]


def test_a_calibration_for_another_model_is_refused(trained: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.calibration.json"
    data = json.loads(SHIPPED_CALIBRATION.read_text())
    data["model"]["sha256"] = "0" * 64
    wrong.write_text(json.dumps(data))
    with pytest.raises(calibration.CalibrationError, match="made for another model"):
        models.install(trained, NAME, "d", TRAINING, wrong)
    assert folder_files() == []


def test_a_model_without_a_label_map_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(b"TFL3 not a model with metadata")
    with pytest.raises(ModelError, match="no label map"):
        models.install(bare, NAME, "d", TRAINING)


def test_the_checksum_applies_to_a_trained_model(trained: Path, tmp_path: Path) -> None:
    path = models.install(trained, NAME, "d", TRAINING)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=f"does not match the checksum of the trained model '{NAME}'"):
        models.resolve(NAME)
    assert not next(s for s in models.status() if s.info.name == NAME).verified
    retrained = tmp_path / f"{NAME}.tflite"  # a new training's output, named like the model it will replace
    retrained.write_bytes(bytes(data))
    assert models.resolve(str(retrained)) == retrained
    path.unlink()
    with pytest.raises(ModelError, match=f"trained model '{NAME}' is missing from .*models remove {NAME}"):
        models.resolve(NAME)


@pytest.mark.parametrize("text", ["{not json", '{"models": [{"name": "x"}]}', '{"models": 3}', "[]",
                                  ('{"models": [{"name": 1, "filename": "x", "sha256": "", "size": 1, "url": null, '
                                  '"official": false, "description": ""}]}')])
def test_a_damaged_user_manifest_is_one_sentence_naming_it(text: str, cli: Cli) -> None:
    manifest = models.user_dir() / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(text)
    with pytest.raises(ModelError, match=f"The list of trained models {manifest} is damaged"):
        models.load_manifest()
    one_error(cli("models", "list"), f"{manifest} is damaged")
    assert models.resolve() == MODEL  # the shipped models still work unnamed


def test_a_user_entry_never_shadows_a_shipped_name(trained: Path) -> None:
    models.install(trained, NAME, "d", TRAINING)
    manifest = models.user_dir() / "manifest.json"
    data = json.loads(manifest.read_text())
    data["models"][0] |= {"name": "ssd_mobilenet_v2_fpnlite_320", "sha256": "0" * 64}  # edited by hand
    manifest.write_text(json.dumps(data))
    known = [m for m in models.load_manifest()[0] if m.name == "ssd_mobilenet_v2_fpnlite_320"]
    assert len(known) == 1 and not known[0].trained
    assert models.resolve("ssd_mobilenet_v2_fpnlite_320") == MODEL


def fill_leaving(disk: Path, room: int) -> None:
    """Fill the small disk until only `room` bytes (whole pages) are free."""
    stats = os.statvfs(disk)
    (disk / "filler").write_bytes(b"x" * (stats.f_bavail * stats.f_frsize - room))
    assert os.statvfs(disk).f_bavail * stats.f_frsize == room


@pytest.mark.parametrize("room_for", [(), ("model",), ("model", "calibration")])
def test_a_full_disk_leaves_no_model_and_no_entry(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  room_for: tuple[str, ...]) -> None:
    """Too small for the model; room for the model but not its calibration; or for both but not the manifest."""
    with tmpfs(tmp_path / "small", "8m") as disk:
        monkeypatch.setenv(models.USER_DIR_ENV, str(disk))
        page = os.statvfs(disk).f_frsize
        pages = {"model": -(-MODEL.stat().st_size // page), "calibration": -(-SHIPPED_CALIBRATION.stat().st_size // page)}
        fill_leaving(disk, (sum(pages[name] for name in room_for) or pages["model"] - 1) * page)
        with pytest.raises(ModelError, match=f"Could not install '{NAME}' in {disk} \\(No space left on device\\)"):
            models.install(trained, NAME, "d", TRAINING, SHIPPED_CALIBRATION)
        assert folder_files() == ["filler"] and models.user_models() == ()


@pytest.fixture
def installed(trained: Path) -> Path:
    return models.install(trained, NAME, "d", TRAINING, SHIPPED_CALIBRATION)


def test_profiles_know_a_trained_models_classes(installed: Path, cli: Cli, tmp_path: Path) -> None:
    classes = cli("profiles", "classes", "--model", NAME)
    assert classes.returncode == 0, classes.stderr
    assert "person" in classes.stdout.splitlines() and "???" not in classes.stdout
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("name: good\nobjects: [person, bus]\n")
    bad.write_text("name: bad\nobjects: [person, door]\n")
    checked = cli("profiles", "check", "--model", NAME, str(good))
    assert checked.returncode == 0 and "good.yaml: ok (good, 2 classes)" in checked.stdout, checked.stderr
    refused = cli("profiles", "check", "--model", NAME, str(bad))
    assert refused.returncode == 2 and "door" in refused.stderr


def test_describe_and_run_name_a_trained_model(installed: Path, cli: Cli) -> None:
    described = cli("describe", "--json", "--model", NAME, str(IMAGES / "yolov5_bus.jpg"))
    assert described.returncode == 0, described.stderr
    assert f"Calibration from beside the model ({models.user_dir() / NAME}{calibration.SUFFIX})" in described.stderr
    (record,) = [json.loads(line) for line in described.stdout.splitlines()]
    assert "bus" in record["utterance"] and {"bus", "person"} <= {o["label"] for o in record["objects"]}
    ran = cli("run", "--model", NAME, "--source", str(IMAGES / "yolov5_bus.jpg"), "--speech", "print")
    assert ran.returncode == 0, ran.stderr
    assert "bus" in ran.stdout.lower() and f"{models.user_dir() / NAME}{calibration.SUFFIX}" in ran.stderr

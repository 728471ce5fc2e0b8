# Two commands do all the set-up: `make run` and `make test`.
# Both create .venv, install the package (editable) with its `assistant` command,
# and install espeak-ng (the speech engine on Linux) if it is missing.

VENV   ?= .venv
PYTHON ?= python3
# The shared model and media: ../shared beside this checkout, else beside the repository it was
# cloned from (a clone in /tmp still finds them), else set SHARED or ASSISTANT_SHARED.
ORIGIN := $(shell git config --get remote.origin.url 2>/dev/null)
ifndef SHARED
SHARED := $(or $(ASSISTANT_SHARED),$(firstword $(wildcard $(abspath ../shared) $(if $(ORIGIN),$(abspath $(ORIGIN)/../shared)))),$(abspath ../shared))
endif
ARGS   ?=

# Offline machines: use the shared model directory when nothing else is configured.
ifneq ($(wildcard $(SHARED)/models),)
export ASSISTANT_MODEL_DIR ?= $(SHARED)/models
endif
export ASSISTANT_SHARED ?= $(SHARED)

STAMP := $(VENV)/.installed

.PHONY: run test system-deps test-deps train-env bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@# Link (never copy) the shared models into models/, so .venv/bin/assistant finds them without make.
	@if [ -d "$(SHARED)/models" ]; then for m in $(SHARED)/models/*.tflite; do ln -sfn "$$m" models/; done; fi
	touch $@

system-deps:
	@{ command -v espeak-ng >/dev/null 2>&1 && ls /usr/lib/*/libportaudio.so.2 /usr/lib/libportaudio.so.2 2>/dev/null | grep -q .; } || { \
	  echo "Installing espeak-ng (text-to-speech) and PortAudio (stereo playback)..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng sox alsa-utils libportaudio2; }

# The live-speech tests play through a PulseAudio null sink, so they run without a sound card;
# the stream tests send a real UDP stream with ffmpeg; the window tests run on Xvfb.
test-deps:
	@for tool in pulseaudio parec ffmpeg Xvfb xdotool chromium; do command -v $$tool >/dev/null 2>&1 || missing=1; done; \
	[ -z "$$missing" ] || { \
	  echo "Installing pulseaudio, parec, ffmpeg, xvfb, xdotool and chromium (for the live speech, stream, window and page tests)..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq pulseaudio pulseaudio-utils ffmpeg xvfb xdotool chromium; }

run: system-deps $(STAMP)
	$(VENV)/bin/assistant run $(ARGS)

# MediaPipe Model Maker's own environment for `assistant train` (about 3.3 GB, once; kept in the
# user's cache, ~/.cache/assistant/train-env, so every clone and every CI run on this machine reuses it).
train-env: $(STAMP)
	$(VENV)/bin/assistant train --setup

# On every core (pytest-xdist), each group of tests that share a run or measure real time on one worker
# (tests/conftest.py); plain `pytest` runs them one after another.
test: system-deps test-deps $(STAMP) train-env
	$(VENV)/bin/python -m pytest -q -n auto --dist loadgroup

# Every benchmark but the soak, a few minutes each; the soak runs for 20 minutes on its own: `make soak`.
bench: $(STAMP)
	$(VENV)/bin/python benchmarks/pipeline.py
	$(VENV)/bin/python benchmarks/profile.py
	$(VENV)/bin/python benchmarks/speech.py
	$(VENV)/bin/python benchmarks/audio.py
	$(VENV)/bin/python benchmarks/tracking.py
	$(VENV)/bin/python benchmarks/debug_view.py
	$(VENV)/bin/python benchmarks/languages.py
	$(VENV)/bin/python benchmarks/dataset_eval.py
	$(VENV)/bin/python benchmarks/hearing.py
	$(VENV)/bin/python benchmarks/latency.py
	$(VENV)/bin/python benchmarks/cover.py
	$(VENV)/bin/python benchmarks/web.py
	$(VENV)/bin/python benchmarks/train.py

soak: $(STAMP)
	$(VENV)/bin/python benchmarks/soak.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

"""Sound that points the way: speech clauses panned to their objects' bearings, and earcons. Pure numpy.

Each clause of a sentence ("a person on your left; a car on your right") is panned with constant
power to the side of the object it names, so a listener with stereo headphones hears "left"
before the word arrives. The pan is capped at MAX_PAN, so both ears always hear something; an
object ahead, and a sentence about nothing in particular ("Paused"), stay centred. Earcons are
short tones made here: an urgent rising pair before an approach warning, and a soft blip before
a newly seen object (off unless asked for).
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Sequence

import numpy as np

from ..core import Clause, Sighting, Utterance

MAX_PAN = 0.8  # of full left or right: at the cap the far ear is 16 dB down, never silent
GAP_S = 0.06  # silence between clauses, so each one's place is heard on its own
EARCON_GAP_S = 0.04  # silence between an earcon and the words
HAZARD_TONES_HZ = (880.0, 1320.0)  # rising: "look out"
HAZARD_TONE_S = 0.05  # each of the two tones; 100 ms in all
HAZARD_LEVEL = 0.5  # peak, against speech peaking near 1: about 6 dB under the words
NEW_TONE_HZ = 660.0
NEW_TONE_S = 0.06
NEW_LEVEL = 0.25  # about 12 dB under the words: a soft cue, not an alarm
FADE_S = 0.008  # raised-cosine edges, so no tone clicks


def pan_of(sighting: Sighting | None, hfov_deg: float, strength: float) -> float:
    """Where to place a clause, from -MAX_PAN (left) to MAX_PAN (right); 0 for ahead or no object."""
    if sighting is None or sighting.position.side == "ahead":
        return 0.0
    reach = max(-1.0, min(1.0, sighting.position.bearing_deg / (hfov_deg / 2)))
    return reach * MAX_PAN * strength


def gains(pan: float) -> tuple[float, float]:
    """Constant-power gains (left, right) for a pan from -1 to 1: the loudness stays the same."""
    angle = (pan + 1) * math.pi / 4
    return math.cos(angle), math.sin(angle)


def clauses(utterance: Utterance) -> tuple[Clause, ...]:
    """The clauses to place one by one, as wording made them; a sentence without any (a status, a
    "gone") is one centred clause."""
    return utterance.clauses or (Clause(utterance.text),)


def tone(frequency_hz: float, seconds: float, level: float, rate: int) -> np.ndarray:
    """A sine tone with raised-cosine edges, mono float32."""
    t = np.arange(round(seconds * rate)) / rate
    wave_ = np.sin(2 * np.pi * frequency_hz * t) * level
    edge = min(len(t) // 2, round(FADE_S * rate))
    if edge:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
        wave_[:edge] *= ramp
        wave_[-edge:] *= ramp[::-1]
    return wave_.astype(np.float32)


def earcon_for(kind: str, earcons: str) -> str | None:
    """The earcon before a sentence of this kind under a profile's `earcons` ('hazard', 'all' or
    'off'): 'hazard' before an approach warning unless off, 'new' before a newly seen object only
    with 'all'; None for any other sentence."""
    if kind == "approach" and earcons in ("hazard", "all"):
        return "hazard"
    if kind == "new" and earcons == "all":
        return "new"
    return None


def earcon(kind: str, rate: int) -> np.ndarray:
    """'hazard': two rising tones, 100 ms; 'new': one soft tone, 60 ms. Mono float32."""
    if kind == "hazard":
        return np.concatenate([tone(f, HAZARD_TONE_S, HAZARD_LEVEL, rate) for f in HAZARD_TONES_HZ])
    return tone(NEW_TONE_HZ, NEW_TONE_S, NEW_LEVEL, rate)


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(round(seconds * rate), np.float32)


def place(mono: np.ndarray, pan: float) -> np.ndarray:
    """A mono signal as stereo (n, 2), panned."""
    left, right = gains(pan)
    return np.stack([mono * left, mono * right], axis=1).astype(np.float32)


def assemble(parts: Sequence[tuple[np.ndarray, float]], rate: int, cue: np.ndarray | None = None,
             cue_pan: float = 0.0) -> np.ndarray:
    """Stereo audio: an optional earcon, then each (mono clause, pan) with a short gap between them."""
    pieces = []
    if cue is not None:
        pieces += [place(cue, cue_pan), place(silence(EARCON_GAP_S, rate), 0)]
    for i, (mono, pan) in enumerate(parts):
        if i:
            pieces.append(place(silence(GAP_S, rate), 0))
        pieces.append(place(mono, pan))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2), np.float32)


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate from 16-bit PCM WAV bytes. espeak-ng's --stdout header
    gives a length it cannot know yet, so the samples are taken to the end of the bytes."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
    if width != 2:
        raise ValueError(f"{8 * width}-bit audio; 16-bit PCM expected")
    start = data.index(b"data") + 8
    usable = (len(data) - start) // (2 * channels) * (2 * channels)
    samples = np.frombuffer(data[start:start + usable], "<i2").astype(np.float32) / 32768
    return samples.reshape(-1, channels).mean(axis=1), rate


def wav_bytes(stereo: np.ndarray, rate: int) -> bytes:
    """A WAV file of 16-bit stereo PCM, whole, in memory (written with outputs.replace)."""
    pcm = (np.clip(stereo, -1, 1) * 32767).astype("<i2")
    data = io.BytesIO()
    with wave.open(data, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return data.getvalue()

"""The reference target's "models": deterministic, cheap stand-ins for a classifier, an LLM, TTS and STT.

They are deterministic so that a load test can verify every answer (the harness ships labelled data
produced by the same rules) and cheap so that the target is never the bottleneck it is meant to
measure: audio is built from cached tone blocks, never sample by sample per request.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
import wave
import zlib
from functools import lru_cache

CLASSES: tuple[str, ...] = ("normal", "warning", "abnormal")
FEATURES: tuple[str, ...] = ("temperature", "vibration", "pressure", "flow")
# (centre, scale) to normalise each feature before the linear layer.
_NORMALISE = ((70.0, 15.0), (5.0, 2.5), (5.0, 2.0), (55.0, 20.0))
_WEIGHTS = (
    (-1.0, -2.0, 0.0, 0.5),  # normal
    (0.0, 0.5, 0.2, 0.0),  # warning
    (1.0, 2.0, -0.2, -0.5),  # abnormal
)
_BIAS = (0.5, 0.3, -0.2)

AUDIO_CLASSES: tuple[str, ...] = ("silence", "low_tone", "high_tone")
SAMPLE_RATE = 16_000
_VOCABULARY = (
    "the", "model", "answers", "every", "request", "with", "a", "steady", "stream", "of", "tokens",
    "while", "load", "rises", "and", "latency", "stays", "low", "under", "pressure", "today",
)  # fmt: skip
MODEL_INFO = {
    "name": "reference-classifier",
    "version": "1.0.0",
    "features": list(FEATURES),
    "classes": list(CLASSES),
    "audio_classes": list(AUDIO_CLASSES),
}


class BadInput(ValueError):
    """The caller sent something the model cannot use; the server answers it as a client error."""


def classify(features: list[float]) -> tuple[str, dict[str, float]]:
    """Return the predicted class and the softmax probabilities of one feature row."""
    if len(features) != len(FEATURES):
        raise BadInput(f"expected {len(FEATURES)} features ({', '.join(FEATURES)}), got {len(features)}")
    try:
        x = [(float(v) - c) / s for v, (c, s) in zip(features, _NORMALISE, strict=True)]
    except (TypeError, ValueError) as exc:
        raise BadInput("features must be numbers") from exc
    scores = [sum(w * xi for w, xi in zip(row, x, strict=True)) + b for row, b in zip(_WEIGHTS, _BIAS, strict=True)]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    probabilities = {name: round(e / total, 6) for name, e in zip(CLASSES, exps, strict=True)}
    label = CLASSES[scores.index(top)]
    return label, probabilities


def tokens_for(prompt: str, count: int) -> list[str]:
    """Deterministic tokens for a prompt: the same prompt always yields the same text."""
    seed = zlib.crc32(prompt.encode())
    return [_VOCABULARY[(seed + i * 7) % len(_VOCABULARY)] for i in range(max(0, count))]


@lru_cache(maxsize=64)
def _tone_block(frequency: int, milliseconds: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """PCM16 samples of one sine tone (0 Hz is silence); cached because TTS reuses a few blocks."""
    n = sample_rate * milliseconds // 1000
    if frequency == 0:
        return b"\x00\x00" * n
    step = 2 * math.pi * frequency / sample_rate
    return struct.pack(f"<{n}h", *(int(12_000 * math.sin(step * i)) for i in range(n)))


def word_frequency(word: str) -> int:
    """The tone a word is spoken as: eight pitches between 300 and 1000 Hz."""
    return 300 + 100 * (zlib.crc32(word.encode()) % 8)


def synthesize_pcm(text: str, word_ms: int = 150) -> bytes:
    """PCM16 mono audio for a text: one tone block per word, so duration grows with the text."""
    words = text.split() or ["..."]
    return b"".join(_tone_block(word_frequency(w), word_ms) for w in words)


def wav_bytes(pcm16: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Wrap PCM16 mono samples into a real WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return buf.getvalue()


def tone_wav(frequency: int, milliseconds: int) -> bytes:
    """A WAV file of one tone; the harness's sample data is made with this."""
    return wav_bytes(_tone_block(frequency, milliseconds))


def read_wav(data: bytes) -> tuple[bytes, int]:
    """Return (PCM16 mono samples, sample rate) of a WAV file, or raise BadInput."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise BadInput("WAV must be 16-bit mono")
            return wav.readframes(wav.getnframes()), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise BadInput(f"not a WAV file: {exc}") from exc


def analyse_pcm(pcm16: bytes, sample_rate: int) -> tuple[float, int]:
    """Return (duration in seconds, dominant frequency in Hz rounded to 10 Hz; 0 for silence).

    Looks at the first 0.25 s only: enough for a steady tone and bounded in cost whatever the upload.
    """
    n = len(pcm16) // 2
    duration = n / sample_rate if sample_rate else 0.0
    window = min(n, sample_rate // 4)
    if window == 0:
        return duration, 0
    samples = struct.unpack_from(f"<{window}h", pcm16)
    if max(abs(s) for s in samples) < 500:
        return duration, 0
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    frequency = crossings * sample_rate / (2 * window)
    return duration, int(round(frequency / 10.0) * 10)


def classify_audio(pcm16: bytes, sample_rate: int) -> tuple[str, dict[str, float]]:
    """Audio classifier behind multipart ``/predict``: silence, a low tone (< 500 Hz) or a high one."""
    _, frequency = analyse_pcm(pcm16, sample_rate)
    label = "silence" if frequency == 0 else ("low_tone" if frequency < 500 else "high_tone")
    return label, {name: (1.0 if name == label else 0.0) for name in AUDIO_CLASSES}


def transcribe(pcm16: bytes, sample_rate: int) -> tuple[str, float]:
    """A transcript that describes the audio, so the harness can verify it: (text, duration s)."""
    duration, frequency = analyse_pcm(pcm16, sample_rate)
    if frequency == 0:
        return f"silence for {duration:.1f} seconds", duration
    return f"tone at {frequency} hertz for {duration:.1f} seconds", duration

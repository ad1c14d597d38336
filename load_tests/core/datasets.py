"""Payload data for the users: labelled feature rows and WAV files with their expected answers.

Loaded once per process and shared by all users. ``python -m load_tests.core.datasets OUT_DIR`` writes the
sample data shipped in ``load_tests/data/`` (made with the reference target's own rules, so every
label is what a correct service answers).
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from load_tests.core.errors import ConfigError


@dataclass(frozen=True)
class FeatureRow:
    features: tuple[float, ...]
    label: str


@dataclass(frozen=True)
class AudioSample:
    name: str
    wav: bytes
    label: str
    transcript: str


def load_feature_rows(path: Path) -> list[FeatureRow]:
    """Rows of a CSV with numeric feature columns and a final ``label`` column."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or reader.fieldnames[-1] != "label":
                raise ConfigError(f"{path}: the last column must be 'label'")
            rows = [FeatureRow(tuple(float(r[c]) for c in reader.fieldnames[:-1]), r["label"]) for r in reader]
    except FileNotFoundError:
        raise ConfigError(f"data.features_csv: file not found: {path}") from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: feature values must be numbers ({exc})") from None
    if not rows:
        raise ConfigError(f"{path}: no rows")
    return rows


def load_audio_samples(directory: Path) -> list[AudioSample]:
    """WAV files listed in ``manifest.csv`` (columns file,label,transcript) of ``directory``."""
    manifest = directory / "manifest.csv"
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            entries = list(csv.DictReader(f))
        samples = [
            AudioSample(e["file"], (directory / e["file"]).read_bytes(), e["label"], e["transcript"]) for e in entries
        ]
    except FileNotFoundError as exc:
        raise ConfigError(f"data.audio_dir: {exc.filename} not found") from None
    except KeyError as exc:
        raise ConfigError(f"{manifest}: missing column {exc}") from None
    if not samples:
        raise ConfigError(f"{manifest}: no audio files listed")
    return samples


def write_sample_data(out_dir: Path, rows: int = 60, seed: int = 7) -> None:
    """Write features.csv and audio/ (+ manifest.csv) labelled by the reference model."""
    from load_tests.reference_service import model  # only for generating; users never need the target's code

    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "features.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*model.FEATURES, "label"])
        for _ in range(rows):
            values = [round(rng.uniform(40, 100), 1), round(rng.uniform(0, 10), 2), round(rng.uniform(1, 9), 2),
                      round(rng.uniform(10, 100), 1)]  # fmt: skip
            writer.writerow([*values, model.classify(values)[0]])
    audio = out_dir / "audio"
    audio.mkdir(exist_ok=True)
    with (audio / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "transcript"])
        for name, frequency, ms in (("tone_220.wav", 220, 500), ("tone_440.wav", 440, 500), ("tone_880.wav", 880, 400),
                                    ("silence.wav", 0, 300)):  # fmt: skip
            wav = model.tone_wav(frequency, ms)
            (audio / name).write_bytes(wav)
            pcm, rate = model.read_wav(wav)
            writer.writerow([name, model.classify_audio(pcm, rate)[0], model.transcribe(pcm, rate)[0]])


if __name__ == "__main__":
    write_sample_data(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data"))

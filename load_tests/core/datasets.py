"""Payload data for the users: labelled feature rows and WAV files with their expected answers.

Loaded once per process and shared by all users. ``python -m load_tests.reference_service.sample_data``
writes the sample data shipped in ``load_tests/data/`` (made with the reference service's own rules, so every
label is what a correct service answers).
"""

from __future__ import annotations

import csv
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

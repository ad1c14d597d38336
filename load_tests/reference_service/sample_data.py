"""Writes the bundled sample data (``load_tests/data/``), labelled by the reference model itself.

``python -m load_tests.reference_service.sample_data [OUT_DIR]``: regenerates features.csv and the
audio files, so the expected labels always agree with what the reference service answers.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from load_tests.reference_service import model


def write_sample_data(out_dir: Path, rows: int = 60, seed: int = 7) -> None:
    """Write features.csv and audio/ (+ manifest.csv) labelled by the reference model."""
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
    write_sample_data(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data"))

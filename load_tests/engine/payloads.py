"""The payload data of this process's run (feature rows, audio), loaded once and shared by all users."""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path

from load_tests.core.datasets import AudioSample, FeatureRow, load_audio_samples, load_feature_rows
from load_tests.engine.plan_source import current_plan


@cache
def feature_rows() -> list[FeatureRow]:
    return load_feature_rows(Path(current_plan().features_csv))


@cache
def audio_samples() -> list[AudioSample]:
    return load_audio_samples(Path(current_plan().audio_dir))


def multipart(field: str, filename: str, content: bytes, content_type: str = "audio/wav") -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type header value."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

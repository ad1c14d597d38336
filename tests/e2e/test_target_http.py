"""The target's HTTP endpoints, through a real HTTP client, and /metrics counting them exactly."""

from __future__ import annotations

import io
import json
import wave

import pytest
import requests

from load_tests.reference_service import model
from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import served

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)

ROW_NORMAL = [55.0, 2.0, 5.0, 70.0]
ROW_ABNORMAL = [95.0, 9.5, 4.0, 20.0]


def test_health_and_model_info(target: TargetInfo) -> None:
    assert requests.get(f"{target.http_url}/health", timeout=5).json() == {"status": "ok"}
    info = requests.get(f"{target.http_url}/model-info", timeout=5).json()
    assert info["classes"] == ["normal", "warning", "abnormal"]
    assert info["features"] == ["temperature", "vibration", "pressure", "flow"]


def test_predict_is_deterministic_and_sensible(target: TargetInfo) -> None:
    url = f"{target.http_url}/predict"
    first = requests.post(url, json={"features": ROW_NORMAL}, timeout=5).json()
    second = requests.post(url, json={"features": ROW_NORMAL}, timeout=5).json()
    assert first == second
    assert first["label"] == "normal"
    assert abs(sum(first["probabilities"].values()) - 1.0) < 1e-4
    assert requests.post(url, json={"features": ROW_ABNORMAL}, timeout=5).json()["label"] == "abnormal"
    batch = requests.post(url, json={"rows": [ROW_NORMAL, ROW_ABNORMAL]}, timeout=5).json()
    assert [p["label"] for p in batch["predictions"]] == ["normal", "abnormal"]


def test_predict_audio_upload(target: TargetInfo) -> None:
    url = f"{target.http_url}/predict"
    low = requests.post(url, files={"file": ("a.wav", model.tone_wav(220, 300), "audio/wav")}, timeout=5).json()
    high = requests.post(url, files={"file": ("b.wav", model.tone_wav(880, 300), "audio/wav")}, timeout=5).json()
    quiet = requests.post(url, files={"file": ("c.wav", model.tone_wav(0, 300), "audio/wav")}, timeout=5).json()
    assert (low["label"], high["label"], quiet["label"]) == ("low_tone", "high_tone", "silence")


def test_predict_rejects_bad_input(target: TargetInfo) -> None:
    url = f"{target.http_url}/predict"
    assert requests.post(url, json={"features": [1.0, 2.0]}, timeout=5).status_code == 400
    r = requests.post(url, files={"file": ("x.wav", b"not audio", "audio/wav")}, timeout=5)
    assert r.status_code == 400 and "WAV" in r.json()["error"]


def test_evaluate_scores_labelled_rows(target: TargetInfo) -> None:
    rows = [{"features": ROW_NORMAL, "label": "normal"}, {"features": ROW_ABNORMAL, "label": "normal"}]
    body = requests.post(f"{target.http_url}/evaluate", json={"rows": rows}, timeout=5).json()
    assert body["count"] == 2 and body["correct"] == 1 and body["accuracy"] == 0.5
    assert body["confusion"] == {"normal": {"normal": 1, "abnormal": 1}}


def test_chat_plain_and_streamed(target: TargetInfo) -> None:
    url = f"{target.http_url}/v1/chat"
    messages = [{"role": "user", "content": "hello"}]
    plain = requests.post(url, json={"messages": messages, "max_tokens": 5}, timeout=5).json()
    assert plain["tokens"] == 5 and len(plain["message"]["content"].split()) == 5

    with requests.post(url, json={"messages": messages, "max_tokens": 5, "stream": True}, stream=True, timeout=5) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines(decode_unicode=True) if line]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert lines.count("event: done") == 1
    assert [d["token"] for d in data[:5]] == plain["message"]["content"].split()
    assert data[-1]["tokens"] == 5


def test_llm_generate(target: TargetInfo) -> None:
    body = requests.post(f"{target.http_url}/v1/llm/generate", json={"prompt": "p", "max_tokens": 7}, timeout=5).json()
    assert body["tokens"] == 7 and len(body["text"].split()) == 7


def test_tts_returns_real_wav_and_stt_transcribes_it(target: TargetInfo) -> None:
    r = requests.post(f"{target.http_url}/v1/tts", json={"text": "one two three"}, timeout=5)
    assert r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert abs(wav.getnframes() / 16000 - 0.45) < 0.01  # 150 ms per word
    stt = requests.post(
        f"{target.http_url}/v1/stt", files={"file": ("t.wav", model.tone_wav(440, 500), "audio/wav")}, timeout=5
    )
    assert stt.json() == {"transcript": "tone at 440 hertz for 0.5 seconds", "duration_s": 0.5}


def test_metrics_count_exactly_what_was_called(target: TargetInfo) -> None:
    calls = {"/health": 3, "/model-info": 2, "/predict": 5}
    for _ in range(calls["/health"]):
        requests.get(f"{target.http_url}/health", timeout=5)
    for _ in range(calls["/model-info"]):
        requests.get(f"{target.http_url}/model-info", timeout=5)
    for _ in range(calls["/predict"]):
        requests.post(f"{target.http_url}/predict", json={"features": ROW_NORMAL}, timeout=5)
    requests.post(f"{target.http_url}/v1/chat", json={"messages": [{"content": "x"}], "stream": True}, timeout=5)
    counts = served(target.http_url, "http")
    assert counts == {**calls, "/v1/chat (stream)": 1}
    text = requests.get(f"{target.http_url}/metrics", timeout=5).text
    for name in (
        "target_db_pool_size 20.0",
        "target_db_pool_in_use 0.0",
        "process_resident_memory_bytes",
        "target_in_flight",
    ):
        assert name in text

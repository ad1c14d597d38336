"""The target's user-like routes: ``/invocation`` (Parquet or JSON rows) and the session gateway.

Tests of "services as data" lean on these figures (labels, row counters, per-endpoint counts), so
they are checked here through a real HTTP client against a fresh target.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from load_tests.reference_service import model
from load_tests.reference_service.launcher import TargetInfo, set_faults
from tests.conftest import metric, served

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)

# One row of each class, with an id column as real feeds carry.
ROWS = [
    {"id": 1, "temperature": 55.0, "vibration": 2.0, "pressure": 5.0, "flow": 70.0},
    {"id": 2, "temperature": 70.0, "vibration": 5.0, "pressure": 15.0, "flow": 55.0},
    {"id": 3, "temperature": 95.0, "vibration": 9.5, "pressure": 4.0, "flow": 20.0},
]
LABELS = ["normal", "warning", "abnormal"]
PARQUET = "application/vnd.apache.parquet"


def _parquet(rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _invoke(target: TargetInfo, method: str, **kwargs) -> requests.Response:
    return requests.post(f"{target.http_url}/invocation", params={"method": method}, timeout=5, **kwargs)


def _rows_counted(target: TargetInfo, endpoint: str = "/invocation") -> tuple[float, float]:
    labels = {"protocol": "http", "endpoint": endpoint}
    return metric(target.http_url, "target_rows_total", **labels), metric(
        target.http_url, "target_distinct_rows", **labels
    )


def _errors(target: TargetInfo, endpoint: str, kind: str) -> float:
    return metric(target.http_url, "target_errors_total", protocol="http", endpoint=endpoint, kind=kind)


def test_parquet_rows_get_the_models_labels(target: TargetInfo) -> None:
    expected = [model.classify([r[f] for f in model.FEATURES])[0] for r in ROWS]
    assert expected == LABELS
    for content_type in (PARQUET, "application/octet-stream"):
        r = _invoke(target, "predict", data=_parquet(ROWS), headers={"Content-Type": content_type})
        assert r.status_code == 200
        assert r.json() == {"predictions": LABELS}


def test_predict_proba_sums_to_one_and_agrees_with_predict(target: TargetInfo) -> None:
    r = _invoke(target, "predict_proba", data=_parquet(ROWS), headers={"Content-Type": PARQUET})
    assert r.status_code == 200
    body = r.json()
    assert body["labels"] == list(model.CLASSES)
    assert len(body["probabilities"]) == 3
    for probabilities, label in zip(body["probabilities"], LABELS, strict=True):
        assert sorted(probabilities) == sorted(model.CLASSES)
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert max(probabilities, key=probabilities.get) == label


def test_json_body_is_one_row_or_a_list(target: TargetInfo) -> None:
    assert _invoke(target, "predict", json=ROWS[2]).json() == {"predictions": ["abnormal"]}
    assert _invoke(target, "predict", json=ROWS).json() == {"predictions": LABELS}
    one = _invoke(target, "predict_proba", json=ROWS[0]).json()
    assert len(one["probabilities"]) == 1 and sum(one["probabilities"][0].values()) == pytest.approx(1.0, abs=1e-5)


def test_rows_are_counted_and_repeats_are_seen(target: TargetInfo) -> None:
    assert _invoke(target, "predict", data=_parquet(ROWS), headers={"Content-Type": PARQUET}).status_code == 200
    assert _rows_counted(target) == (3.0, 3.0)
    # The same row again, as JSON with integer values: still the same row.
    again = {**ROWS[1], "temperature": 70, "flow": 55}
    assert _invoke(target, "predict", json=again).json() == {"predictions": ["warning"]}
    assert _rows_counted(target) == (4.0, 3.0)
    assert served(target.http_url, "http") == {"/invocation": 2.0}


def test_bad_bodies_are_refused_with_a_reason(target: TargetInfo) -> None:
    missing = {k: v for k, v in ROWS[0].items() if k != "flow"}
    r = _invoke(target, "predict", json=missing)
    assert r.status_code == 400 and "flow" in r.json()["detail"]
    r = _invoke(target, "predict", data=b"not parquet", headers={"Content-Type": PARQUET})
    assert r.status_code == 400 and "Parquet" in r.json()["detail"]
    assert _invoke(target, "predict", json=[]).status_code == 400
    assert _invoke(target, "predict", json={**ROWS[0], "vibration": "high"}).status_code == 400
    assert _invoke(target, "predict", data=b"a,b", headers={"Content-Type": "text/csv"}).status_code == 415
    r = _invoke(target, "classify", json=ROWS[0])
    assert r.status_code == 422 and "predict_proba" in r.json()["detail"]
    assert served(target.http_url, "http") == {"/invocation": 6.0}
    assert _errors(target, "/invocation", "bad_request") == 4
    assert _errors(target, "/invocation", "unsupported_media_type") == 1
    assert _errors(target, "/invocation", "unknown_method") == 1
    assert _rows_counted(target) == (0.0, 0.0)


def test_injected_faults_reach_the_new_routes(target: TargetInfo) -> None:
    set_faults(target.http_url, error_rate=1.0, operations=["session"])
    assert requests.post(f"{target.http_url}/login", json={"user": "ann"}, timeout=5).status_code == 500
    assert _invoke(target, "predict", json=ROWS[0]).status_code == 200
    set_faults(target.http_url, error_rate=1.0, operations=["predict"])
    assert _invoke(target, "predict", json=ROWS[0]).status_code == 500
    assert _errors(target, "/login", "injected") == 1
    assert _errors(target, "/invocation", "injected") == 1
    assert _rows_counted(target) == (1.0, 1.0)


def test_session_flow_end_to_end(target: TargetInfo) -> None:
    url = target.http_url
    token = requests.post(f"{url}/login", json={"user": "ann"}, timeout=5).json()["token"]
    assert requests.post(f"{url}/sessions", timeout=5).status_code == 401
    bad = requests.post(f"{url}/sessions", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
    opened = requests.post(f"{url}/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert opened.status_code == 200
    session = opened.json()["session_id"]

    for row, label in zip(ROWS, LABELS, strict=True):
        answer = requests.post(f"{url}/sessions/{session}/predict", json=row, timeout=5).json()
        assert (answer["session_id"], answer["label"]) == (session, label)
    assert requests.delete(f"{url}/sessions/{session}", timeout=5).status_code == 204

    closed = requests.post(f"{url}/sessions/{session}/predict", json=ROWS[0], timeout=5)
    assert (closed.status_code, closed.json()) == (404, {"detail": "no such session"})
    assert requests.post(f"{url}/sessions/unknown/predict", json=ROWS[0], timeout=5).status_code == 404
    assert requests.delete(f"{url}/sessions/{session}", timeout=5).status_code == 404

    assert served(url, "http") == {"/login": 1, "/sessions": 3, "/sessions/{id}/predict": 5, "/sessions/{id}": 2}
    assert _errors(target, "/sessions", "unauthorized") == 2
    assert _errors(target, "/sessions/{id}/predict", "no_session") == 2
    assert _errors(target, "/sessions/{id}", "no_session") == 1
    assert _rows_counted(target, "/sessions/{id}/predict") == (3.0, 3.0)


def test_openapi_describes_the_new_routes(target: TargetInfo) -> None:
    spec = requests.get(f"{target.http_url}/openapi.json", timeout=5).json()
    paths, schemas = spec["paths"], spec["components"]["schemas"]
    invocation = paths["/invocation"]["post"]
    assert invocation["parameters"][0]["schema"]["enum"] == ["predict", "predict_proba"]
    assert sorted(invocation["requestBody"]["content"]) == ["application/json", "application/octet-stream", PARQUET]
    json_body = invocation["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert sorted(json_body[0]["required"]) == sorted(model.FEATURES)

    def body_ref(path: str) -> str:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]

    assert body_ref("/login") == "#/components/schemas/LoginBody"
    assert body_ref("/sessions/{id}/predict") == "#/components/schemas/FeatureRow"
    assert schemas["LoginBody"]["required"] == ["user"]
    assert sorted(schemas["FeatureRow"]["required"]) == sorted(model.FEATURES)
    assert paths["/sessions"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "204" in paths["/sessions/{id}"]["delete"]["responses"]

"""Data rows in request bodies: read them (Parquet or JSON), answer them, and fingerprint them.

Our users' inference services take rows of feature columns, often a Parquet file straight from the
data lake. The target reads them the same way, and fingerprints every row so that a test can prove
from ``/metrics`` alone that a data feed sent each row exactly once.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from load_tests.reference_service import model

PARQUET_TYPES = ("application/vnd.apache.parquet", "application/octet-stream")
JSON_TYPE = "application/json"
METHODS = ("predict", "predict_proba")

# Built from model.FEATURES so the published schema cannot drift from what the model reads. Other
# columns (an id, a timestamp) are allowed: real feeds carry them, and they make rows distinct.
FeatureRow: type[BaseModel] = create_model(
    "FeatureRow",
    __config__=ConfigDict(extra="allow", json_schema_extra={"description": "One row of the model's features."}),
    **{name: (float, Field(allow_inf_nan=False)) for name in model.FEATURES},
)
_ROWS = TypeAdapter(list[FeatureRow])


class UnsupportedMediaType(ValueError):
    """The body is neither JSON nor Parquet (answered 415, not 400: the client chose the wrong format)."""


class PredictAnswer(BaseModel):
    """``/invocation?method=predict``: one label per row, in the order sent."""

    predictions: list[str]


class ProbaAnswer(BaseModel):
    """``/invocation?method=predict_proba``: class probabilities per row, and the class labels."""

    probabilities: list[dict[str, float]]
    labels: list[str]


def parse_rows(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The validated rows of a Parquet or JSON body, each a dict of its columns; BadInput otherwise.

    Raises ``model.BadInput`` for a bad body and ``UnsupportedMediaType`` for a content type that is
    neither, so the route can answer 400 and 415 apart.
    """
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_TYPE:
        raw = _json_rows(body)
    elif media in PARQUET_TYPES:
        raw = _parquet_rows(body)
    else:
        raise UnsupportedMediaType(
            f"unsupported content type {media or '(none)'!r}: send {JSON_TYPE} or {' or '.join(PARQUET_TYPES)}"
        )
    if not raw:
        raise model.BadInput("the body holds no rows")
    try:
        rows = _ROWS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        index, *column = first["loc"]
        where = f"row {index}" + (f", column {'.'.join(map(str, column))}" if column else "")
        raise model.BadInput(f"{where}: {first['msg']}") from exc
    return [row.model_dump() for row in rows]


def _json_rows(body: bytes) -> list[Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise model.BadInput(f"not JSON: {exc}") from exc
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise model.BadInput("a JSON body must be one row object or a list of row objects")


def _parquet_rows(body: bytes) -> list[dict[str, Any]]:
    # Imported on the first Parquet body: most runs of the target never see one, and start-up stays fast.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowException, OSError) as exc:
        raise model.BadInput(f"not a Parquet file: {exc}") from exc
    return table.to_pylist()


def features_of(row: dict[str, Any]) -> list[float]:
    return [row[name] for name in model.FEATURES]


def answer(rows: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """The JSON answer of ``method`` (one of METHODS) for validated rows.

    Probabilities are the model's softmax, so ``predict`` is always their most likely label.
    """
    results = [model.classify(features_of(row)) for row in rows]
    if method == "predict":
        return PredictAnswer(predictions=[label for label, _ in results]).model_dump()
    return ProbaAnswer(probabilities=[p for _, p in results], labels=list(model.CLASSES)).model_dump()


def fingerprint(row: dict[str, Any]) -> bytes:
    """A digest of the row's canonical JSON: the same row gives the same digest whichever format carried it.

    Keys are sorted and integral floats written as integers, so ``{"id": 7}`` from JSON and ``7.0`` from
    a float Parquet column count as one row. Sixteen bytes keep a million remembered rows near 100 MB.
    """
    canonical = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in row.items()}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()

"""Data feeds: loading CSV, JSON Lines and Parquet rows, and handing them out in each order."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from load_tests.core import fleet
from load_tests.core.errors import ConfigError
from load_tests.core.feeds import Feed, columns, feed_for, load_rows

WHERE = "fleet.payments.feed"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_types_each_column_as_a_whole(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "cards.csv",
        "id,zip,amount,count,label,note\n1,007,12.5,3,a,\n2,010,7,,b,x\n-3,123,-1e2,0,5,\n",
    )
    rows = load_rows(path, WHERE)
    assert rows == [
        {"id": 1, "zip": "007", "amount": 12.5, "count": 3, "label": "a", "note": ""},
        {"id": 2, "zip": "010", "amount": 7.0, "count": None, "label": "b", "note": "x"},
        {"id": -3, "zip": "123", "amount": -100.0, "count": 0, "label": "5", "note": ""},
    ]
    assert [type(r["amount"]) for r in rows] == [float, float, float]
    assert type(rows[0]["id"]) is int


def test_csv_keeps_python_only_number_spellings_as_text(tmp_path: Path) -> None:
    rows = load_rows(_write(tmp_path / "odd.csv", "a,b,c\n1_000,nan,+5\n"), WHERE)
    assert rows == [{"a": "1_000", "b": "nan", "c": "+5"}]


def test_csv_row_with_wrong_width_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", "a,b\n1,2\n3\n")
    with pytest.raises(ConfigError, match=r"line 3: 1 values for 2 columns"):
        load_rows(path, WHERE)


def test_jsonl_reads_objects_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "rows.ndjson", '{"a": 1, "b": [1, 2]}\n\n   \n{"a": 2, "b": {"c": "x"}}\n')
    assert load_rows(path, WHERE) == [{"a": 1, "b": [1, 2]}, {"a": 2, "b": {"c": "x"}}]


@pytest.mark.parametrize(
    ("bad", "message"),
    [("[1, 2]", "line 3: a row must be a JSON object, not list"), ('{"a": ', "line 3: not JSON")],
)
def test_jsonl_bad_line_is_named(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path / "rows.jsonl", '{"a": 1}\n\n' + bad + '\n{"a": 2}\n')
    with pytest.raises(ConfigError, match=message) as caught:
        load_rows(path, WHERE)
    assert str(caught.value).startswith(f"{WHERE}: {path}: ")
    assert "\n" not in str(caught.value)


def test_parquet_rows_read_back_as_python_values(tmp_path: Path) -> None:
    written = [
        {"id": 1, "price": 9.5, "name": "alpha", "tags": ["x", "y"]},
        {"id": 2, "price": -0.25, "name": "beta", "tags": []},
        {"id": 3, "price": 1e6, "name": "gamma", "tags": ["z"]},
    ]
    path = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(written), path)
    rows = load_rows(path, WHERE)
    assert rows == written
    assert [type(v) for v in rows[0].values()] == [int, float, str, list]


def test_not_a_parquet_file_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "fake.parquet", "id,name\n1,a\n")
    with pytest.raises(ConfigError, match=r"not a readable Parquet file"):
        load_rows(path, WHERE)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.csv", None, "file not found"),
        ("empty.csv", "", "the feed has no rows"),
        ("header_only.csv", "a,b\n", "the feed has no rows"),
        ("empty.jsonl", "\n\n", "the feed has no rows"),
        ("rows.xlsx", "a,b\n1,2\n", "unknown feed format '.xlsx'; use .csv, .jsonl, .ndjson, .parquet"),
    ],
)
def test_file_errors_are_one_line_naming_where_and_path(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        _write(path, text)
    with pytest.raises(ConfigError) as caught:
        load_rows(path, WHERE)
    assert str(caught.value) == f"{WHERE}: {path}: {message}"


def test_columns_are_those_every_row_has() -> None:
    assert columns([{"a": 1, "b": 2, "c": 3}, {"a": 4, "c": 5}, {"c": 6, "a": 7, "d": 8}]) == {"a", "c"}
    assert columns([]) == frozenset()


ROWS = [{"n": k} for k in range(10)]


def _draw(feed: Feed, times: int) -> list[int | None]:
    return [row["n"] if (row := feed.next()) is not None else None for _ in range(times)]


def test_sequential_wraps_around_forever() -> None:
    feed = Feed(ROWS[:3], "sequential", "stop")
    assert _draw(feed, 7) == [0, 1, 2, 0, 1, 2, 0]
    assert feed.remaining() is None
    assert not feed.exhausted


def test_random_with_a_seed_is_reproducible_and_covers_rows() -> None:
    first = _draw(Feed(ROWS, "random", "stop", seed=42), 500)
    assert first == _draw(Feed(ROWS, "random", "stop", seed=42), 500)
    assert first != _draw(Feed(ROWS, "random", "stop", seed=43), 500)
    counts = Counter(first)
    assert set(counts) == set(range(10))
    assert min(counts.values()) > 20  # 50 expected per row: uniform, not stuck on a few
    other_worker = _draw(Feed(ROWS, "random", "stop", share=(1, 2), seed=42), 500)
    assert other_worker != first


def test_unique_shares_split_rows_exactly_once_then_stop() -> None:
    mine, theirs = Feed(ROWS, "unique", "stop", share=(0, 2)), Feed(ROWS, "unique", "stop", share=(1, 2))
    assert mine.remaining() == 5
    got_mine, got_theirs = _draw(mine, 5), _draw(theirs, 5)
    assert got_mine == [0, 2, 4, 6, 8]
    assert set(got_mine) | set(got_theirs) == set(range(10))
    assert set(got_mine) & set(got_theirs) == set()
    assert mine.exhausted and theirs.exhausted and mine.remaining() == 0
    assert _draw(mine, 3) == [None, None, None]


def test_unique_wrap_starts_its_share_again() -> None:
    feed = Feed(ROWS, "unique", "wrap", share=(1, 3))
    assert _draw(feed, 8) == [1, 4, 7, 1, 4, 7, 1, 4]
    assert feed.remaining() is None and not feed.exhausted


def test_unique_share_with_no_rows_is_exhausted_at_once() -> None:
    for when_done in ("stop", "wrap"):
        feed = Feed(ROWS[:2], "unique", when_done, share=(2, 3))
        assert feed.exhausted and feed.next() is None


def test_feed_for_follows_the_spec() -> None:
    spec = fleet.Feed(file="rows.csv", order="unique", when_done="stop")
    feed = feed_for(spec, ROWS, share=(2, 4))
    assert _draw(feed, 4) == [2, 6, None, None]


@pytest.mark.parametrize("share", [(2, 2), (-1, 2), (0, 0)])
def test_bad_share_is_refused(share: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="share"):
        Feed(ROWS, "unique", "stop", share=share)

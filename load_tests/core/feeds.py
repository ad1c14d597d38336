"""Data feeds: the rows a fleet's templates read as ``{{ row.COLUMN }}``, and the order users draw them in.

Rows come from CSV, JSON Lines or Parquet and are loaded once, whole, when the config is read: a bad
file is then a one-line :class:`ConfigError` before any user starts, and :func:`columns` lets the
config check every ``{{ row.x }}`` against the feed instead of failing mid-run.

Users in one process share one :class:`Feed`. ``next()`` does no I/O and never calls into gevent, so
under gevent's cooperative scheduling it can never be interrupted halfway: no lock is needed. Keep it
that way. ``unique`` order spreads the rows over processes without talking between them: process
``i`` of ``n`` takes the rows whose index ``k`` has ``k % n == i``, so no row is sent twice.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from load_tests.core.errors import ConfigError

if TYPE_CHECKING:
    from load_tests.core import fleet

Order = Literal["sequential", "random", "unique"]
WhenDone = Literal["stop", "wrap"]
Row = dict[str, Any]

FORMATS = {".csv": "CSV", ".jsonl": "JSON Lines", ".ndjson": "JSON Lines", ".parquet": "Parquet"}
# Only the plain spellings count as numbers, so that a column of ids like "007" or "1_000" is not
# silently turned into 7 or 1000 (Python's int() and float() would accept both, and "nan" too).
_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def load_rows(path: Path, where: str) -> list[Row]:
    """Every row of a feed file, or a ConfigError naming ``where`` (the config key) and the file."""
    path = Path(path)
    loader = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".parquet": _parquet_rows}
    suffix = path.suffix.lower()
    if suffix not in loader:
        valid = ", ".join(FORMATS)
        raise ConfigError(f"{where}: {path}: unknown feed format {path.suffix or '(no extension)'!r}; use {valid}")
    if not path.is_file():
        raise ConfigError(f"{where}: {path}: " + ("is not a file" if path.exists() else "file not found"))
    try:
        rows = loader[suffix](path, where)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path}: cannot read the file ({_one_line(exc)})") from None
    if not rows:
        raise ConfigError(f"{where}: {path}: the feed has no rows")
    return rows


def columns(rows: list[Row]) -> frozenset[str]:
    """The columns every row has: the only ones a template may name, since any row may be drawn."""
    if not rows:
        return frozenset()
    return frozenset(rows[0]).intersection(*rows[1:])


def _csv_rows(path: Path, where: str) -> list[Row]:
    """Rows of a CSV file with a header row, each column typed as a whole (see :func:`_typed_column`)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                return []
            if len(set(header)) != len(header) or "" in header:
                raise ConfigError(f"{where}: {path}: the header row has an empty or repeated column name")
            cells: list[list[str]] = []
            for record in reader:
                if not record:
                    continue  # a blank line
                if len(record) != len(header):
                    raise ConfigError(
                        f"{where}: {path}: line {reader.line_num}: {len(record)} values for {len(header)} columns"
                    )
                cells.append(record)
        except csv.Error as exc:
            raise ConfigError(f"{where}: {path}: line {reader.line_num}: {_one_line(exc)}") from None
    typed = [_typed_column(column) for column in zip(*cells, strict=True)] if cells else []
    return [dict(zip(header, values, strict=True)) for values in zip(*typed, strict=True)]


def _typed_column(values: Iterable[str]) -> list[Any]:
    """A column as ints if every non-empty value is an int, else as floats if every one is a number, else as text.

    Typing the column as a whole (not each cell) keeps a row's types the same as its neighbours'. An
    empty cell is None in a numeric column (it is no number) and stays "" in a text column.
    """
    values = list(values)
    filled = [v for v in values if v != ""]
    if not filled:
        return values
    if all(_INT.fullmatch(v) for v in filled):
        return [int(v) if v != "" else None for v in values]
    if all(_FLOAT.fullmatch(v) for v in filled):
        return [float(v) if v != "" else None for v in values]
    return values


def _jsonl_rows(path: Path, where: str) -> list[Row]:
    """One JSON object per line; blank lines are skipped, anything else is an error naming its line."""
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{where}: {path}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                kind = type(row).__name__ if row is not None else "null"
                raise ConfigError(f"{where}: {path}: line {number}: a row must be a JSON object, not {kind}")
            rows.append(row)
    return rows


def _parquet_rows(path: Path, where: str) -> list[Row]:
    """Rows of a Parquet file as Python values (lists and structs become lists and dicts)."""
    # Imported here: pyarrow takes a noticeable time to import and only Parquet feeds need it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, ValueError) as exc:
        raise ConfigError(f"{where}: {path}: not a readable Parquet file ({_one_line(exc)})") from None
    return table.to_pylist()


def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line, since the CLI prints errors as one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


class Feed:
    """The rows of one feed, handed out one per call in the feed's order.

    ``share=(i, n)`` says this is process ``i`` of ``n``. It splits the rows for ``unique`` order
    and varies the ``random`` seed (so that workers do not all send the same sequence);
    ``sequential`` order ignores it. ``next()`` returns the row itself, not a copy, to stay cheap:
    callers must not change it.
    """

    def __init__(
        self,
        rows: list[Row],
        order: Order,
        when_done: WhenDone,
        share: tuple[int, int] = (0, 1),
        seed: int | None = None,
    ) -> None:
        index, count = share
        if not 0 <= index < count:
            raise ValueError(f"share {share!r}: need 0 <= index < count")
        if not rows:
            raise ValueError("a feed needs at least one row")
        if order not in ("sequential", "random", "unique") or when_done not in ("stop", "wrap"):
            raise ValueError(f"unknown order {order!r} or when_done {when_done!r}")
        self.order = order
        self.when_done = when_done
        self._rows = rows[index::count] if order == "unique" else list(rows)
        self._next = 0
        # A str seed is hashed the same way on every run and Python version, unlike a tuple.
        self._random = random.Random(f"{seed}:{index}" if seed is not None else None)

    def next(self) -> Row | None:
        """The next row, or None once a ``unique``/``stop`` feed has given all of its share.

        Must never yield to gevent (no I/O, no sleeping, no logging): users of a process share the
        feed without a lock, which is safe only while this runs to its end in one go.
        """
        if self.order == "random":
            return self._random.choice(self._rows)
        if self._next >= len(self._rows):
            if not self._rows or (self.order == "unique" and self.when_done == "stop"):
                return None
            self._next = 0
        row = self._rows[self._next]
        self._next += 1
        return row

    @property
    def exhausted(self) -> bool:
        """True when ``next()`` will only return None from now on (users then go idle)."""
        return self.remaining() == 0

    def remaining(self) -> int | None:
        """How many more rows ``next()`` will give, or None when it gives rows forever."""
        if self.order == "unique" and self.when_done == "stop":
            return len(self._rows) - self._next
        return None if self._rows else 0


def feed_for(spec: fleet.Feed, rows: list[Row], share: tuple[int, int] = (0, 1)) -> Feed:
    """The Feed a fleet's ``feed:`` section describes, over rows already loaded by :func:`load_rows`."""
    return Feed(rows, spec.order, spec.when_done, share=share, seed=spec.seed)

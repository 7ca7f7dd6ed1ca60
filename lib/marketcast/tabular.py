"""Turning tabular transactions (CSV, Parquet, Delta rows) into canonical invoice lines.

Plain Python, like :mod:`marketcast.normalising`, and with the same output: one row of
:data:`normalising.COLUMNS` per record, loaded or rejected with a reason, plus ``structural``
rows for problems that make a whole file unusable (a mapped column it lacks, a file that is not
CSV or Parquet).

The configuration's column mapping (``source.columns``) names, for each canonical field, the
source column that fills it: ``country`` (the market, or its first key column), ``date`` (a date
or a timestamp), ``price`` (the amount of the line), and optionally ``stream_id`` (a second key
column), ``customer_id``, ``invoice`` and ``times_viewed`` (a quantity). Without an ``invoice``
column each line is a sale, and a negative amount is a return (kind ``cancellation``, counted as
negative revenue); with one, the invoice prefixes follow the AAVAIL rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from marketcast.normalising import (
    COLUMNS,
    RAW_LIMIT,
    RecordError,
    invoice_kind_of,
    parse_number,
    parse_optional_int,
    structural_row,
)

#: Canonical fields a mapping must name.
REQUIRED_FIELDS = ("country", "date", "price")
#: Canonical fields a mapping may name.
OPTIONAL_FIELDS = ("stream_id", "customer_id", "invoice", "times_viewed")


def parse_csv(
    source_file: str,
    content: bytes,
    mapping: Mapping[str, str],
    *,
    latest_day: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per data line of a CSV file with a header line.

    Columns the mapping does not name are ignored; a row whose number of fields differs from
    the header's is rejected; empty fields count as missing.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield structural_row(source_file, "is not UTF-8 text, so not CSV")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    missing = _missing_columns(header, mapping)
    if missing:
        yield structural_row(source_file, f"has no column {missing} named in source.columns")
        return
    line_no = 1
    for fields in reader:
        line_no = reader.line_num
        if not fields or all(not field.strip() for field in fields):
            continue
        raw = ",".join(fields)
        if len(fields) != len(header):
            yield _rejected(
                source_file,
                line_no,
                raw,
                f"row has {len(fields)} fields, the header has {len(header)}",
            )
            continue
        record = {
            name: (field if field.strip() else None)
            for name, field in zip(header, fields, strict=True)
        }
        yield _row(source_file, line_no, raw, record, mapping, latest_day)


def parse_parquet(
    source_file: str,
    content: bytes,
    mapping: Mapping[str, str],
    *,
    latest_day: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per record of a Parquet file; the record number is its row, from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(content))
    except (pa.ArrowInvalid, OSError) as error:
        yield structural_row(source_file, f"is not Parquet: {error}")
        return
    missing = _missing_columns(table.column_names, mapping)
    if missing:
        yield structural_row(source_file, f"has no column {missing} named in source.columns")
        return
    table = table.select(sorted(set(mapping.values())))
    records = enumerate(table.to_pylist(), start=1)
    yield from parse_records(source_file, records, mapping, latest_day)


def parse_records(
    source_file: str,
    records: Iterable[tuple[int, Mapping[str, Any]]],
    mapping: Mapping[str, str],
    latest_day: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows for already-typed records (Parquet or Delta), each with its record number."""
    for line_no, record in records:
        raw = json.dumps(record, default=str)
        yield _row(source_file, line_no, raw, record, mapping, latest_day)


def missing_columns(columns: Iterable[str], mapping: Mapping[str, str]) -> list[str]:
    """The mapped source columns that ``columns`` lacks."""
    present = set(columns)
    return sorted({column for column in mapping.values() if column not in present})


def _missing_columns(columns: Iterable[str], mapping: Mapping[str, str]) -> str:
    return ", ".join(repr(column) for column in missing_columns(columns, mapping))


def _rejected(source_file: str, line_no: int, raw: str, reason: str) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS)
    row.update(source_file=source_file, line_no=line_no, reason=reason, raw=raw[:RAW_LIMIT])
    return row


def _row(
    source_file: str,
    line_no: int,
    raw: str,
    record: Mapping[str, Any],
    mapping: Mapping[str, str],
    latest_day: dt.date | None,
) -> dict[str, Any]:
    try:
        fields = normalise_row(record, mapping, latest_day=latest_day)
    except RecordError as error:
        return _rejected(source_file, line_no, raw, str(error))
    row = dict.fromkeys(COLUMNS)
    row.update(source_file=source_file, line_no=line_no, **fields)
    return row


def normalise_row(
    record: Mapping[str, Any], mapping: Mapping[str, str], *, latest_day: dt.date | None = None
) -> dict[str, Any]:
    """Map one tabular record to the canonical invoice-line fields.

    Raises:
        RecordError: The record cannot be loaded; the message is the reason, naming the
            source column.
    """

    def value(field: str) -> Any:
        column = mapping.get(field)
        return None if column is None else record.get(column)

    country = _text(value("country"))
    if country is None:
        raise RecordError(f"missing {mapping['country']}")
    stream = value("stream_id")
    stream_id = _text(stream)
    if "stream_id" in mapping and stream_id is None:
        raise RecordError(f"missing {mapping['stream_id']}")
    price = parse_number(value("price"), mapping["price"])

    invoice = _text(value("invoice"))
    if "invoice" in mapping:
        if invoice is None:
            raise RecordError(f"missing {mapping['invoice']}")
        kind = invoice_kind_of(invoice)
        if kind == "sale" and price < 0:
            raise RecordError("negative price on an ordinary invoice")
        revenue = -abs(price) if kind == "cancellation" else price
    else:
        kind = "cancellation" if price < 0 else "sale"
        revenue = price

    day = _day(value("date"), mapping["date"])
    if latest_day is not None and day > latest_day:
        raise RecordError(f"date {day} is after the day of the run, {latest_day}")
    return {
        "invoice": invoice,
        "invoice_kind": kind,
        "country": country,
        "customer_id": parse_optional_int(value("customer_id"), "customer_id"),
        "stream_id": stream_id,
        "times_viewed": parse_optional_int(value("times_viewed"), mapping.get("times_viewed", "")),
        "price": price,
        "revenue": revenue,
        "invoice_date": day,
    }


def _text(item: Any) -> str | None:
    if item is None:
        return None
    if isinstance(item, float) and item.is_integer():
        item = int(item)  # a key column read as float: 12.0 names market "12"
    text = str(item).strip()
    return text or None


def _day(item: Any, column: str) -> dt.date:
    """The calendar day of a date, a timestamp (UTC when it has a zone) or an ISO string."""
    if item is None or (isinstance(item, str) and not item.strip()):
        raise RecordError(f"missing {column}")
    if isinstance(item, dt.datetime):
        if item.tzinfo is not None:
            item = item.astimezone(dt.timezone.utc)
        return item.date()
    if isinstance(item, dt.date):
        return item
    if not isinstance(item, str):
        raise RecordError(f"{column} {item!r} is not a date")
    text = item.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{column} {text!r} is not a date that exists") from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.date()

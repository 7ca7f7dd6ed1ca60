"""Turning the text of one invoice file into canonical invoice lines, in plain Python.

Runs inside Spark tasks (one call per file) and in tests without Spark. Each record comes out
either loaded (``reason`` is None) or rejected with a reason and its raw text; problems that make
the whole file unusable come out as rows of kind ``structural`` and stop the job.

Revenue rule: an ordinary invoice line adds its price; a cancellation (invoice id starting with
``C``) reverses a sale and subtracts the absolute price; an adjustment (``A``) adds its price as
given, sign included.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from typing import Any

#: Field names seen in AAVAIL files, mapped to the canonical names.
FIELD_NAMES = {
    "country": "country",
    "customer_id": "customer_id",
    "invoice": "invoice",
    "price": "price",
    "total_price": "price",
    "stream_id": "stream_id",
    "StreamID": "stream_id",
    "times_viewed": "times_viewed",
    "TimesViewed": "times_viewed",
    "year": "year",
    "month": "month",
    "day": "day",
}

INVOICE_KINDS = {"C": "cancellation", "A": "adjustment"}
STRUCTURAL = "structural"
RAW_LIMIT = 2000

COLUMNS = (
    "source_file",
    "line_no",
    "reason",
    "raw",
    "invoice",
    "invoice_kind",
    "country",
    "customer_id",
    "stream_id",
    "times_viewed",
    "price",
    "revenue",
    "invoice_date",
)


class RecordError(ValueError):
    """A record that cannot be loaded; its message is the reject reason."""


def parse_file(
    source_file: str, content: bytes, *, latest_day: dt.date | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one row per record of a JSON-array or JSON-lines file.

    Args:
        source_file: The file's path, carried on every row.
        content: The file's bytes.
        latest_day: Records dated after this day (the day of the run) are rejected.

    Yields:
        Dicts with the keys of :data:`COLUMNS`. A structural problem (the file is not JSON, a
        field name the mapping does not know) yields a row whose ``invoice_kind`` is
        ``structural`` and whose ``reason`` describes it.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield structural_row(source_file, "is not UTF-8 text, so not JSON")
        return
    start = _skip_space(text, 0)
    if start == len(text):
        return
    if text[start] == "[":
        records = _array_records(text, start + 1)
    elif text[start] == "{":
        records = _line_records(text)
    else:
        yield structural_row(source_file, "is not JSON: it starts with neither '[' nor '{'")
        return

    unknown: set[str] = set()
    for line_no, raw, value in records:
        yield _row(source_file, line_no, raw, value, unknown, latest_day)
    for field in sorted(unknown):
        yield structural_row(
            source_file, f"has field {field!r} that the field mapping does not know"
        )


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _array_records(text: str, position: int) -> Iterator[tuple[int, str, Any]]:
    """Records of a JSON array, each with its exact raw text; a broken tail is one record."""
    decoder = json.JSONDecoder()
    line_no = 0
    while True:
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "]":
            return
        line_no += 1
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            rest = text[position:]
            yield line_no, rest, RecordError(f"corrupt or truncated JSON: {error.msg}")
            return
        yield line_no, text[position:end], value
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            line_no += 1
            yield line_no, text[position:], RecordError("corrupt or truncated JSON array")
            return


def _line_records(text: str) -> Iterator[tuple[int, str, Any]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            value = RecordError(f"corrupt JSON line: {error.msg}")
        yield line_no, line, value


def structural_row(source_file: str, message: str) -> dict[str, Any]:
    """A row that stops the job: the whole file is unusable for the reason given."""
    row = dict.fromkeys(COLUMNS)
    row.update(source_file=source_file, invoice_kind=STRUCTURAL, reason=f"{source_file} {message}")
    return row


def _row(
    source_file: str,
    line_no: int,
    raw: str,
    value: Any,
    unknown: set[str],
    latest_day: dt.date | None,
) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(source_file=source_file, line_no=line_no)
    try:
        if isinstance(value, RecordError):
            raise value
        row.update(normalise_record(value, unknown, latest_day=latest_day))
    except RecordError as error:
        row.update(reason=str(error), raw=raw[:RAW_LIMIT])
    return row


def normalise_record(
    value: Any, unknown: set[str] | None = None, *, latest_day: dt.date | None = None
) -> dict[str, Any]:
    """Map one parsed JSON record to the canonical invoice-line fields.

    Args:
        value: The parsed record.
        unknown: A set that collects field names the mapping does not know.
        latest_day: A record dated after this day is rejected as dated in the future.

    Returns:
        The canonical fields (without source_file and line_no).

    Raises:
        RecordError: The record cannot be loaded; the message is the reason.
    """
    if not isinstance(value, dict):
        raise RecordError("record is not a JSON object")
    fields: dict[str, Any] = {}
    for name, item in value.items():
        canonical = FIELD_NAMES.get(name)
        if canonical is None:
            if unknown is not None:
                unknown.add(name)
            continue
        fields[canonical] = item

    country = fields.get("country")
    if not isinstance(country, str) or not country.strip():
        raise RecordError("missing country")
    invoice = fields.get("invoice")
    if invoice is None or not str(invoice).strip():
        raise RecordError("missing invoice")
    invoice = str(invoice).strip()
    kind = invoice_kind_of(invoice)
    price = parse_number(fields.get("price"), "price")
    if kind == "sale" and price < 0:
        raise RecordError("negative price on an ordinary invoice")
    revenue = -abs(price) if kind == "cancellation" else price
    invoice_date = _date(fields)
    if latest_day is not None and invoice_date > latest_day:
        raise RecordError(f"date {invoice_date} is after the day of the run, {latest_day}")
    return {
        "invoice": invoice,
        "invoice_kind": kind,
        "country": country.strip(),
        "customer_id": parse_optional_int(fields.get("customer_id"), "customer_id"),
        "stream_id": None if fields.get("stream_id") is None else str(fields["stream_id"]),
        "times_viewed": parse_optional_int(fields.get("times_viewed"), "times_viewed"),
        "price": price,
        "revenue": revenue,
        "invoice_date": invoice_date,
    }


def invoice_kind_of(invoice: str) -> str:
    """``sale``, ``cancellation`` (prefix C) or ``adjustment`` (prefix A) of an invoice id."""
    first = invoice[0]
    if first.isdigit():
        return "sale"
    kind = INVOICE_KINDS.get(first.upper())
    if kind is None:
        raise RecordError(f"unknown invoice prefix {first!r}")
    return kind


def parse_number(item: Any, name: str) -> float:
    """A finite number from a JSON or text value; the error names the field ``name``."""
    if item is None or (isinstance(item, str) and not item.strip()):
        raise RecordError(f"missing {name}")
    if isinstance(item, bool):
        raise RecordError(f"non-numeric {name}")
    try:
        number = float(item)
    except (TypeError, ValueError):
        raise RecordError(f"non-numeric {name}") from None
    if not math.isfinite(number):
        raise RecordError(f"non-numeric {name}")
    return number


def parse_optional_int(item: Any, name: str) -> int | None:
    """A whole number, or None for a missing value."""
    if item is None:
        return None
    number = parse_number(item, name)
    if number != int(number):
        raise RecordError(f"{name} is not a whole number")
    return int(number)


def _date(fields: dict[str, Any]) -> dt.date:
    parts = [fields.get(name) for name in ("year", "month", "day")]
    if any(part is None for part in parts):
        raise RecordError("missing year, month or day")
    try:
        year, month, day = (int(str(part).strip()) for part in parts)
        return dt.date(year, month, day)
    except ValueError:
        shown = "-".join(str(part) for part in parts)
        raise RecordError(f"date {shown} does not exist") from None

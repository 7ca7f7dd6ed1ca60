"""Parsing invoice files into canonical lines, without Spark."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from marketcast.normalising import STRUCTURAL, RecordError, normalise_record, parse_file

BASE = {
    "country": "France",
    "customer_id": 12345.0,
    "invoice": "562417",
    "price": 8.29,
    "stream_id": "40016",
    "times_viewed": 3,
    "year": "2019",
    "month": "08",
    "day": "01",
}


def _variant(**changes):
    record = dict(BASE)
    for old, new in changes.items():
        record[new] = record.pop(old)
    return record


@pytest.mark.parametrize(
    "record",
    [
        BASE,
        _variant(price="total_price"),
        _variant(stream_id="StreamID"),
        _variant(times_viewed="TimesViewed"),
        _variant(price="total_price", stream_id="StreamID", times_viewed="TimesViewed"),
    ],
    ids=["canonical", "total_price", "StreamID", "TimesViewed", "all_variants"],
)
def test_each_field_name_variant_maps_to_the_canonical_fields(record):
    fields = normalise_record(record)
    assert fields == {
        "invoice": "562417",
        "invoice_kind": "sale",
        "country": "France",
        "customer_id": 12345,
        "stream_id": "40016",
        "times_viewed": 3,
        "price": 8.29,
        "revenue": 8.29,
        "invoice_date": dt.date(2019, 8, 1),
    }


def test_cancellation_keeps_its_invoice_id_and_subtracts_revenue():
    fields = normalise_record({**BASE, "invoice": "C562418"})
    assert fields["invoice"] == "C562418"
    assert fields["invoice_kind"] == "cancellation"
    assert fields["revenue"] == -8.29


def test_adjustment_keeps_its_negative_price():
    fields = normalise_record({**BASE, "invoice": "A563186", "price": -11062.06})
    assert fields["invoice_kind"] == "adjustment"
    assert fields["revenue"] == -11062.06


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"country": None}, "missing country"),
        ({"country": "  "}, "missing country"),
        ({"price": "abc"}, "non-numeric price"),
        ({"price": None}, "missing price"),
        ({"month": "02", "day": "30"}, "date 2019-02-30 does not exist"),
        ({"price": -3.0}, "negative price on an ordinary invoice"),
        ({"invoice": "X1"}, "unknown invoice prefix 'X'"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(change, reason):
    with pytest.raises(RecordError, match=reason):
        normalise_record({**BASE, **change})


def test_json_array_and_json_lines_give_the_same_rows():
    records = [BASE, _variant(price="total_price")]
    as_array = list(parse_file("a.json", json.dumps(records).encode()))
    as_lines = list(parse_file("a.json", "\n".join(map(json.dumps, records)).encode()))
    assert [row["revenue"] for row in as_array] == [8.29, 8.29]
    assert [row["line_no"] for row in as_array] == [1, 2]
    assert [row["revenue"] for row in as_lines] == [8.29, 8.29]
    assert all(row["reason"] is None for row in as_array + as_lines)


def test_truncated_array_keeps_good_records_and_rejects_the_tail_with_raw_text():
    text = json.dumps([BASE, BASE])[:-40]
    rows = list(parse_file("t.json", text.encode()))
    assert rows[0]["reason"] is None
    assert rows[1]["reason"].startswith("corrupt or truncated JSON")
    assert rows[1]["raw"].startswith('{"country": "France"')
    assert len(rows) == 2


def test_corrupt_json_line_is_rejected_and_the_others_load():
    text = "\n".join([json.dumps(BASE), '{"country": "France", "price": ', json.dumps(BASE)])
    rows = list(parse_file("l.json", text.encode()))
    assert [row["reason"] is None for row in rows] == [True, False, True]
    assert rows[1]["line_no"] == 2
    assert rows[1]["raw"] == '{"country": "France", "price": '


def test_unknown_field_name_is_a_structural_problem_naming_file_and_field():
    rows = list(parse_file("f.json", json.dumps([{**BASE, "discount": 1}]).encode()))
    structural = [row for row in rows if row["invoice_kind"] == STRUCTURAL]
    assert len(structural) == 1
    assert structural[0]["reason"] == (
        "f.json has field 'discount' that the field mapping does not know"
    )


def test_a_file_that_is_not_json_is_a_structural_problem():
    rows = list(parse_file("n.json", b"country,price\nFrance,1\n"))
    assert len(rows) == 1
    assert rows[0]["invoice_kind"] == STRUCTURAL
    assert "is not JSON" in rows[0]["reason"]


def test_an_empty_file_has_no_rows():
    assert list(parse_file("e.json", b"  \n")) == []
    assert list(parse_file("e.json", b"[]")) == []


def test_a_record_dated_after_the_day_of_the_run_is_rejected():
    with pytest.raises(
        RecordError, match="date 2019-08-01 is after the day of the run, 2019-07-31"
    ):
        normalise_record(BASE, latest_day=dt.date(2019, 7, 31))
    assert normalise_record(BASE, latest_day=dt.date(2019, 8, 1))["invoice_date"] == dt.date(
        2019, 8, 1
    )

"""Schema checks of landing files against the source contract (no Spark needed)."""
from __future__ import annotations

import pytest

from segrec_spark.errors import SchemaMismatchError
from segrec_spark.generate.bank import synthetic_contract
from segrec_spark.ingest.schema import FileSchema, check_delivery_schema, check_file_schema

SOURCES = synthetic_contract().sources

IB = SOURCES["ib"]  # ib_event_id, identity_id_hash, event_ts, event_type, product_area, amount


def text_file(path: str, *names: str) -> FileSchema:
    return FileSchema(path, tuple((n, "string") for n in names))


def test_contract_columns_in_any_order_pass_and_extras_are_returned():
    ok = text_file("ib/2026-01/a.csv", "amount", *IB.column_names[:-1])
    assert check_file_schema(IB, ok) == ()
    drift = text_file("ib/2026-01/b.csv", *IB.column_names, "channel", "branch")
    assert check_file_schema(IB, drift) == ("channel", "branch")


def test_missing_required_column_names_file_column_expected_and_found():
    file = text_file("ib/2026-02/part-1.csv", *[c for c in IB.column_names if c != "event_ts"])
    with pytest.raises(SchemaMismatchError) as err:
        check_file_schema(IB, file)
    assert str(err.value) == ("ib/2026-02/part-1.csv: column 'event_ts' of source ib: "
                              "expected type string, found missing")


def test_changed_type_is_reported_with_both_types():
    columns = tuple((n, "double" if n == "amount" else "string") for n in IB.column_names)
    with pytest.raises(SchemaMismatchError,
                       match=r"^x\.parquet: column 'amount' of source ib: expected type string, "
                             r"found double$"):
        check_file_schema(IB, FileSchema("x.parquet", columns))


def test_repeated_header_column_is_an_error():
    with pytest.raises(SchemaMismatchError, match="column 'amount' appears 2 times"):
        check_file_schema(IB, text_file("y.csv", *IB.column_names, "amount"))


def test_delivery_extras_are_collected_across_files_once_each():
    files = [text_file("a.csv", *IB.column_names, "x"),
             text_file("b.csv", "y", *IB.column_names, "x")]
    assert check_delivery_schema(IB, files) == ("x", "y")

"""Numbers written with a decimal comma (``dialect.decimal: ","``), as continental European
exports write them: ``1.234,5`` or ``1 234,5`` is 1234.5.

A Spark column expression shared by ingest and the snapshot stage (a bottom module: no stage,
no session): with a comma, points, spaces and no-break spaces (thousands separators) are
dropped and the comma becomes a point, so the text then parses as a number the usual way. With
the default point, the text is unchanged.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def with_decimal_point(text: Column, decimal: str) -> Column:
    """``text`` (a number as written with ``decimal`` as its decimal mark) with a point."""
    if decimal == ".":
        return text
    return F.regexp_replace(F.regexp_replace(text, "[.\\s\u00a0]", ""), ",", ".")

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


# Signs written beside a number in exports, dropped before it is read: currencies and percent.
NUMBER_SIGNS = "$€£¥₹%"
# Thousands grouped with "," or "'" before a decimal point: "1,234.50", "1'234'567".
POINT_GROUPING = "^[+-]?[0-9]{1,3}([,'][0-9]{3})+([.][0-9]*)?$"


def number_as_written(text: Column, decimal: str, grouping: bool = True) -> Column:
    """``text``, a number as a spreadsheet or a core-banking export writes it, as text Spark
    casts to a number: ``$1,234.50``, ``18.2%``, ``(1,234.50)`` (an accountant's negative),
    ``1.234,50-`` (a trailing minus) become ``1234.50``, ``18.2``, ``-1234.50``, ``-1234.50``.

    Currency and percent signs are dropped (``18.2%`` is 18.2, as written); with a decimal
    point and ``grouping``, commas or apostrophes that group thousands are dropped; with a
    decimal comma, :func:`with_decimal_point` drops the grouping points and spaces."""
    signs = F.trim(F.regexp_replace(text, f"[{NUMBER_SIGNS}]", ""))
    negative = F.regexp_replace(F.regexp_replace(signs, "^\\((.+)\\)$", "-$1"),
                                "^([^-]*[0-9])-$", "-$1")
    if decimal == "." and grouping:
        negative = F.when(negative.rlike(POINT_GROUPING),
                          F.regexp_replace(negative, "[,']", "")).otherwise(negative)
    return with_decimal_point(negative, decimal)

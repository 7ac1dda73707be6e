"""The snapshot transforms on tiny hand-written frames: column plan, flags, features, labels."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from segrec_spark.contract import contract_from_dict
from segrec_spark.snapshot import frames as sf
from segrec_spark.typed_yaml import ConfigError

AS_OF = dt.date(2026, 1, 1)


def _contract(columns, **source):
    return contract_from_dict({
        "products": [{"code": "DEPOSIT"}, {"code": "CARD"}],
        "sources": {"snap": {"kind": "snapshot", "location": "x.csv", "columns": columns,
                             **source}},
    }, "bank.yaml")


SCHEMA = T.StructType([
    T.StructField("cust_no", T.LongType()), T.StructField("age", T.IntegerType()),
    T.StructField("job", T.StringType()), T.StructField("emp.var.rate", T.DoubleType()),
    T.StructField("row_id", T.IntegerType()), T.StructField("y", T.StringType()),
    T.StructField("has_card", T.StringType()), T.StructField("card_bought", T.StringType()),
])


def test_plan_infers_undeclared_columns_and_leaves_ids_out():
    source = _contract([
        {"name": "cust_no", "type": "long", "role": "key"},
        {"name": "y", "role": "label", "product": "DEPOSIT", "positive": ["yes"]},
        {"name": "card_bought", "role": "label", "product": "CARD"},
        {"name": "has_card", "role": "holding", "product": "CARD"},
    ]).snapshot
    plan = sf.plan_columns(source, SCHEMA, {"job": 5, "row_id": 100}, n_rows=100)
    assert [(a.source_name, a.name, a.kind) for a in plan.attributes] == [
        ("age", "age", "numeric"), ("job", "job", "categorical"),
        ("emp.var.rate", "emp_var_rate", "numeric")]
    assert plan.ignored == ("row_id",)  # a unique whole number per row is an id
    assert plan.key == "cust_no"
    assert set(plan.labels) == {"DEPOSIT", "CARD"}


def test_plan_with_undeclared_ignore_uses_only_declared_columns():
    source = _contract([
        {"name": "y", "role": "label", "product": "DEPOSIT"},
        {"name": "age", "type": "int", "role": "numeric"},
    ], undeclared_columns="ignore").snapshot
    plan = sf.plan_columns(source, SCHEMA, {}, n_rows=10)
    assert [a.name for a in plan.attributes] == ["age"]
    assert "job" in plan.ignored
    assert plan.key is None


def test_text_with_many_values_is_free_text_not_a_category():
    field = T.StructField("comment", T.StringType())
    assert sf._inferred_kind(field, distinct=500, n_rows=1000, max_categories=100) is None
    assert sf._inferred_kind(field, distinct=12, n_rows=1000, max_categories=100) == "categorical"


def test_text_of_numbers_with_missing_cells_is_numeric_unless_whole_number_ids(spark):
    df = spark.createDataFrame(
        [("12.5", "1", "a", "1"), (" ", "2", "2", "2"), ("NA", "3", "3", "3"),
         (None, "4", "4", "4"), ("7", "5", "5", "5")],
        "amount string, ident string, mixed string, n string")
    aggs = [agg.alias(f"{c}_{j}") for c in df.columns
            for j, agg in enumerate(sf.number_text_counts(c))]
    row = df.agg(*aggs).collect()[0]
    counts = {c: (row[f"{c}_0"], row[f"{c}_1"], row[f"{c}_2"]) for c in df.columns}
    assert counts["amount"] == (2, 1, 0)  # two numbers, one with a fraction, nothing else
    assert counts["mixed"] == (4, 0, 1)  # "a" is neither
    distinct = {"amount": 2, "ident": 5, "mixed": 5, "n": 5}
    # 5 of 5 rows distinct but n_rows too few to be an id; with 21 rows ident is one
    assert sf.numeric_text_columns(counts, distinct, n_rows=5) == {"amount": 0, "ident": 0,
                                                                  "n": 0}
    assert sf.numeric_text_columns(counts, {**distinct, "ident": 21}, n_rows=21) == {
        "amount": 0, "n": 0}
    schema = T.StructType([T.StructField(c, T.StringType()) for c in df.columns])
    source = _contract([{"name": "n", "role": "label", "product": "DEPOSIT"}]).snapshot
    plan = sf.plan_columns(source, schema, {"amount": 2, "ident": 21, "mixed": 5}, 21,
                           numeric_text={"amount"})
    assert [(a.name, a.kind) for a in plan.attributes] == [("amount", "numeric"),
                                                           ("mixed", "categorical")]
    assert plan.ignored == ("ident",)


def test_a_number_column_with_a_few_stray_text_cells_stays_numeric():
    # (numbers, numbers with a fraction, other text): a description line under the header or
    # "#N/A" in 10 of 1,000 cells; codes that are numbers in 98 % of the cells stay text
    counts = {"income": (990, 300, 10), "codes": (980, 0, 20), "one_in_two": (1, 0, 1)}
    distinct = {"income": 700, "codes": 6, "one_in_two": 2}
    assert sf.numeric_text_columns(counts, distinct, n_rows=1000) == {"income": 10}
    schema = T.StructType([T.StructField(c, T.StringType()) for c in counts])
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}]).snapshot
    plan = sf.plan_columns(source, schema, distinct, 1000, numeric_text={"income": 10})
    assert [(a.name, a.kind, a.stray_cells) for a in plan.attributes] == [
        ("income", "numeric", 10), ("codes", "categorical", 0),
        ("one_in_two", "categorical", 0)]


def test_snapshot_features_and_labels(spark):
    source = _contract([
        {"name": "cust_no", "type": "long", "role": "key"},
        {"name": "y", "role": "label", "product": "DEPOSIT", "positive": ["yes"]},
        {"name": "card_bought", "role": "label", "product": "CARD"},
        {"name": "has_card", "role": "holding", "product": "CARD"},
        {"name": "age", "type": "int", "role": "numeric"},
        {"name": "job", "role": "categorical"},
        {"name": "emp.var.rate", "type": "double", "role": "numeric"},
        {"name": "row_id", "role": "ignore"},
    ]).snapshot
    rows = [(1, 30, "admin", -1.8, 1, "yes", "0", "1"),
            (2, None, None, 1.1, 2, " NO ", "yes", "0"),
            (3, 45, "", None, 3, "", "no", "true"),
            (None, 50, "x", 0.0, 4, "no", "0", "0")]
    df = spark.createDataFrame(rows, SCHEMA)
    plan = sf.plan_columns(source, df.schema, {}, n_rows=4)
    conformed = df.transform(sf.conformed_snapshot(plan, source, ("DEPOSIT", "CARD"), AS_OF))
    features = sf.snapshot_features(conformed, plan, ("DEPOSIT", "CARD"))
    expected = spark.createDataFrame(
        [(AS_OF, "1", 30.0, "admin", -1.8, 0, 0), (AS_OF, "2", None, "UNKNOWN", 1.1, 0, 1),
         (AS_OF, "3", 45.0, "UNKNOWN", None, 0, 0)],
        "as_of_date date, identity_id_hash string, age double, job string, "
        "emp_var_rate double, holds_deposit int, holds_card int")
    assert_df_equality(features, expected, ignore_row_order=True, ignore_nullable=True)
    labels = sf.snapshot_labels(conformed, ("DEPOSIT", "CARD"), 30)
    expected_labels = spark.createDataFrame(
        [(AS_OF, "1", "DEPOSIT", 1, 30, None), (AS_OF, "1", "CARD", 1, 30, None),
         (AS_OF, "2", "DEPOSIT", 0, 30, None),  # holds CARD: no CARD label row
         (AS_OF, "3", "CARD", 1, 30, None)],  # empty y: DEPOSIT unknown, no row
        "as_of_date date, identity_id_hash string, product_code string, label int, "
        "horizon_days int, split string")
    assert_df_equality(labels, expected_labels, ignore_row_order=True, ignore_nullable=True)
    rejects = {r["_reject"] for r in conformed.collect()}
    assert rejects == {None, "MISSING_KEY"}


def test_split_column_values(spark):
    source = _contract([
        {"name": "y", "role": "label", "product": "DEPOSIT"},
        {"name": "part", "role": "split"},
    ], split_train=["fit"], split_evaluation=["holdout"]).snapshot
    df = spark.createDataFrame([("1", "fit"), ("0", " HOLDOUT "), ("1", "other")], "y string, part string")
    plan = sf.plan_columns(source, df.schema, {}, n_rows=3)
    out = df.select(sf.split_column(plan, source).alias("split")).collect()
    assert [r["split"] for r in out] == ["train", "evaluation", None]


@pytest.mark.parametrize(("columns", "message"), [
    ([{"name": "y", "role": "label", "product": "LOAN"}],
     "bank.yaml: sources.snap.columns[0].product: 'LOAN' is not a product of the catalogue"),
    ([{"name": "y", "role": "label"}],
     "bank.yaml: sources.snap.columns[0].product: y: a label column must name its product"),
    ([{"name": "a.b", "role": "numeric", "type": "double"}, {"name": "a_b", "role": "ignore"},
      {"name": "y", "role": "label", "product": "CARD"}],
     "bank.yaml: sources.snap.columns: column names ['a_b'] are the same once non-word"),
    ([{"name": "has_card", "role": "holding", "product": "CARD"}],
     "bank.yaml: sources.snap.columns: holding columns without a label need a column with "
     "role time"),
])
def test_contract_errors_name_file_and_field(columns, message):
    with pytest.raises(ConfigError) as err:
        _contract(columns)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("source", "message"), [
    ({"names": ["id", "y"]},
     "bank.yaml: sources.snap.names: names the columns of a file without a header line: set "
     "dialect header: false"),
    ({"names": ["id", "Y"], "dialect": {"header": False}},
     "bank.yaml: sources.snap.columns: y not among names"),
    ({"names": ["id", "y", "ID"], "dialect": {"header": False}},
     "bank.yaml: sources.snap.names: repeats ['id']"),
])
def test_names_of_a_file_without_a_header_are_checked(source, message):
    with pytest.raises(ConfigError) as err:
        _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}], **source)
    assert str(err.value).startswith(message)


def test_take_up_is_read_from_the_next_snapshots_holdings(spark):
    """Monthly holdings with no outcome column: a take-up is a product held one snapshot later
    and not now; the latest month and a client missing from the next month are unknown."""
    source = _contract([
        {"name": "client", "type": "string", "role": "key"},
        {"name": "month", "type": "date", "role": "time"},
        {"name": "has_card", "role": "holding", "product": "CARD"},
        {"name": "y", "role": "label", "product": "DEPOSIT"},
    ]).snapshot
    jan, feb, mar = dt.date(2015, 1, 28), dt.date(2015, 2, 28), dt.date(2015, 3, 28)
    rows = [("a", jan, "0", "1"), ("a", feb, "1", "0"), ("a", mar, "1", None),  # takes it up
            ("b", jan, "0", "0"), ("b", feb, "0", "0"), ("b", mar, "NA", None),  # never
            ("c", jan, "0", "0"), ("c", mar, "1", None),  # skips feb: jan unknown
            ("d", feb, "1", "0"), ("d", mar, "0", None)]  # held in feb: no CARD row
    df = spark.createDataFrame(rows, "client string, month date, has_card string, y string")
    plan = sf.plan_columns(source, df.schema, {}, n_rows=len(rows))
    assert plan.derived == ("CARD",)
    products = ("DEPOSIT", "CARD")
    conformed = df.transform(sf.conformed_snapshot(plan, source, products, AS_OF))
    labels = sf.snapshot_labels(
        conformed.transform(sf.take_up_from_next_snapshot(plan.derived, [jan, feb, mar])),
        products, 30, plan.derived)
    expected = spark.createDataFrame(
        [(jan, "a", "CARD", 1, 31), (feb, "b", "CARD", 0, 28), (jan, "b", "CARD", 0, 31),
         (jan, "a", "DEPOSIT", 1, 30), (feb, "a", "DEPOSIT", 0, 30),
         (jan, "b", "DEPOSIT", 0, 30), (feb, "b", "DEPOSIT", 0, 30),
         (jan, "c", "DEPOSIT", 0, 30), (feb, "d", "DEPOSIT", 0, 30)],
        "as_of_date date, identity_id_hash string, product_code string, label int, "
        "horizon_days int")
    assert_df_equality(labels.drop("split"), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_holdings_without_an_as_of_date_give_no_take_up():
    source = _contract([{"name": "has_card", "role": "holding", "product": "CARD"},
                        {"name": "y", "role": "label", "product": "DEPOSIT"}]).snapshot
    schema = T.StructType([T.StructField("has_card", T.StringType()),
                           T.StructField("y", T.StringType())])
    assert sf.plan_columns(source, schema, {}, n_rows=2).derived == ()


def test_the_row_position_of_a_key_less_table_is_not_a_column_of_the_bank():
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}]).snapshot
    schema = T.StructType([T.StructField("y", T.StringType()),
                           T.StructField("age", T.IntegerType()),
                           T.StructField(sf.ROW_NUMBER, T.StringType())])
    assert sf.columns_to_count(source, schema) == ["age"]
    plan = sf.plan_columns(source, schema, {"age": 50, sf.ROW_NUMBER: 100}, n_rows=100)
    assert [a.name for a in plan.attributes] == ["age"]
    assert plan.ignored == ()


def test_as_of_dates_parse_with_the_dialects_format_or_as_iso_dates(spark):
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"},
                        {"name": "month", "type": "date", "role": "time"}],
                       dialect={"date_format": "yyyyMM"}).snapshot
    df = spark.createDataFrame([(" 201501",), ("2015-02-28",), ("2015-03",), ("someday",),
                                ("201599",), (None,)], "month string")
    plan = sf.plan_columns(source, df.schema, {}, n_rows=6)
    days = [r[0] for r in df.select(sf.as_of_column(plan, AS_OF, source, T.StringType()))
            .collect()]
    assert days == [dt.date(2015, 1, 1), dt.date(2015, 2, 28), dt.date(2015, 3, 1), None, None,
                    None]
    # A month the CSV reader read as a number parses the same; a year out of range is NULL.
    numbers = spark.createDataFrame([(201501,), (99999999,)], "month int")
    assert [r[0] for r in numbers.select(sf.as_of_column(plan, AS_OF, source, T.IntegerType()))
            .collect()] == [dt.date(2015, 1, 1), None]


def test_an_as_of_date_in_a_declared_two_digit_format_is_read_in_1940_to_2039(spark):
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"},
                        {"name": "day", "type": "date", "role": "time"}],
                       dialect={"date_format": "d-MMM-yy"}).snapshot
    df = spark.createDataFrame([("14-Jan-98",), ("3-Feb-15",), ("2015-03-01",)], "day string")
    plan = sf.plan_columns(source, df.schema, {}, n_rows=3)
    days = [r[0] for r in df.select(sf.as_of_column(plan, AS_OF, source, T.StringType()))
            .collect()]
    assert days == [dt.date(1998, 1, 14), dt.date(2015, 2, 3), dt.date(2015, 3, 1)]


def test_a_snapshot_without_any_outcome_is_segmented_only():
    only_key = {"sources": {"snap": {"kind": "snapshot", "location": "x.csv", "columns": [
        {"name": "id", "type": "string", "role": "key"}]}}}
    contract = contract_from_dict(only_key, "bank.yaml")
    assert contract.segments_only
    assert contract.product_codes == ()
    assert not _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}]).segments_only
    raw = {"sources": {"web": {"kind": "events", "channel": "web", "location": "web",
                               "columns": [{"name": "id", "type": "key", "role": "key"},
                                           {"name": "ts", "type": "timestamp", "role": "time"}]}}}
    with pytest.raises(ConfigError, match=r"bank.yaml: products: the catalogue must declare at "
                                          r"least one product"):
        contract_from_dict(raw, "bank.yaml")


def test_no_product_gives_no_label_row_with_the_labels_columns(spark):
    conformed = spark.createDataFrame(
        [(dt.date(2026, 1, 31), "1", None, None)],
        "as_of_date date, identity_id_hash string, split string, _reject string")
    labels = sf.snapshot_labels(conformed, [], 30)
    assert labels.count() == 0
    assert labels.columns == ["as_of_date", "identity_id_hash", "product_code", "label",
                              "horizon_days", "split"]


def test_text_numbers_follow_the_decimal_mark(spark):
    df = spark.createDataFrame([("1.234,5",), ("1 234,5",), ("12,0",), (" 7 ",), ("abc",), ("",),
                                (None,)], "v string")
    comma = [r[0] for r in df.select(sf.text_number("v", ",")).collect()]
    assert comma == [1234.5, 1234.5, 12.0, 7.0, None, None, None]
    point = [r[0] for r in df.select(sf.text_number("v")).collect()]
    assert point == [None, None, None, 7.0, None, None, None]


def test_numbers_as_exports_write_them(spark):
    df = spark.createDataFrame([("$3,983.17",), ("18.2%",), ("(1,234.50)",), ("-$12",),
                                ("1'234'567",), ("€ 250",), ("1,5",), ("12,34",), ("1,234,5",),
                                ("$",), ("-",), ("5-",)], "v string")
    point = [r[0] for r in df.select(sf.text_number("v")).collect()]
    assert point == [3983.17, 18.2, -1234.5, -12.0, 1234567.0, 250.0, None, None, None, None,
                     None, -5.0]
    comma = spark.createDataFrame([("1.234,50-",), ("(2,5)",), ("12,5 %",)], "v string")
    assert [r[0] for r in comma.select(sf.text_number("v", ",")).collect()] == [
        -1234.5, -2.5, 12.5]
    # without grouping (how a file not separated by commas is first read): "3,983" is no number
    grouped = spark.createDataFrame([("3,983",)], "v string")
    assert grouped.select(sf.text_number("v", ".", grouping=False)).first()[0] is None


def test_text_dates_are_read_with_the_format_that_fits_them_all():
    formats = ["yyyy-MM-dd", *sf.DATE_FORMATS]
    at = {f: i for i, f in enumerate(formats)}

    def parsed(**counts):
        row = [0] * len(formats)
        for fmt, n in counts.items():
            row[at[fmt.replace("_", "/")]] = n
        return row
    found = sf.date_text_columns(
        {"opened": parsed(**{"d_M_yyyy": 100}),           # 27/01/2010: day first only
         "us": parsed(**{"d_M_yyyy": 40, "M_d_yyyy": 100}),  # 1/13/2010: month first
         "both": parsed(**{"d_M_yyyy": 100, "M_d_yyyy": 100}),  # no day above 12
         "stray": parsed(**{"d_M_yyyy": 995}),            # 5 cells of other text in 1,000
         "text": parsed(**{"d_M_yyyy": 90}),              # a tenth not dates: text
         # 2010-01-27: the default and its lenient form read it alike, no other reading
         "iso": parsed(**{"yyyy-MM-dd": 100, "yyyy-M-d": 100})},
        {"opened": 100, "us": 100, "both": 100, "stray": 1000, "text": 100, "iso": 100},
        formats)
    assert found == {"opened": ("d/M/yyyy", 0, ()), "us": ("M/d/yyyy", 0, ()),
                     "both": ("d/M/yyyy", 0, ("M/d/yyyy",)), "stray": ("d/M/yyyy", 5, ()),
                     "iso": ("yyyy-MM-dd", 0, ())}


def test_text_dates_are_days_since_1970(spark):
    df = spark.createDataFrame([("27/01/2010",), ("2/1/1970 14:33",), ("",)], "v string")
    got = [r[0] for r in df.select(sf.text_date("v", "d/M/yyyy")).collect()]
    assert got == [dt.date(2010, 1, 27), dt.date(1970, 1, 2), None]
    iso = spark.createDataFrame([("2010-01-27T14:33:00",), ("27-Jan-2010",)], "v string")
    assert [r[0] for r in iso.select(sf.text_date("v", "yyyy-M-d")).collect()] == [
        dt.date(2010, 1, 27), None]
    assert iso.select(sf.text_date("v", "d-MMM-yyyy")).collect()[1][0] == dt.date(2010, 1, 27)
    # an open end written as a far date is no date (a feature of 2.9 million days would
    # dominate every distance)
    ends = spark.createDataFrame([("1970-01-11",), ("9999-12-31",)], "v string")
    assert [r[0] for r in ends.select(sf.text_days("v", "yyyy-M-d")).collect()] == [10.0, None]
    # ... and is not counted as a date: a column of them alone is no date column
    assert ends.agg(*sf.date_text_counts("v", ["yyyy-M-d"])).first()[0] == 1


def test_a_two_digit_year_is_read_in_1940_to_2039_and_beside_four_digit_ones(spark):
    cells = ["6/16/14", "05/11/2014", "3/15/65", "1/1/39", "1/1/40 10:30", "14-Jan-15",
             "27/01/10", "1/2/3", None]
    df = spark.createDataFrame([(c,) for c in cells], "v string")

    def read(date_format):
        return [r[0] for r in df.select(sf.text_date("v", date_format)).collect()]
    d = dt.date
    # month first: both widths in one column (an export that changed its format)
    assert read("M/d/yyyy") == [d(2014, 6, 16), d(2014, 5, 11), d(1965, 3, 15), d(2039, 1, 1),
                                d(1940, 1, 1), None, None, None, None]
    assert read("d-MMM-yyyy")[5] == d(2015, 1, 14)
    # a declared two-digit format: the same century, not Spark's 2000-2099
    assert read("M/d/yy")[:5] == [d(2014, 6, 16), None, d(1965, 3, 15), d(2039, 1, 1),
                                  d(1940, 1, 1)]
    assert read("yyyy/M/d") == [None] * len(cells)  # 27/01/10 is no year-first date
    assert sf.two_digit_year("d.M.yyyy") == "d.M.yy"
    assert sf.two_digit_year("yyyy-M-d") is None
    assert sf.two_digit_year("M/d/yy") is None
    # a column is a date candidate when shaped like one, or like the dialect's own format
    dotted = spark.createDataFrame([("2010.01.27",), ("6/16/14",)], "v string")
    assert dotted.agg(sf.date_shaped_count("v")).first()[0] == 1
    assert dotted.agg(sf.date_shaped_count("v", "yyyy.MM.dd")).first()[0] == 2


def test_a_word_not_shaped_like_the_format_is_not_parsed_and_nothing_else_changes(spark):
    from pyspark.sql import functions as F

    cells = ["2010-01-27", "2010-1-7", "2010/01/27", "27/01/2010", "1/13/2010", "7.1.2010",
             "27-Jan-2010", "27-jan-2010", "31/02/2010", "2010-01-27T14:33", "27/01/2010 14:33",
             "20100127", "12345-01-01", "0001-01-01", "1899-12-31", " 2010-01-27 ", "NA", "",
             "27-01-2010", "01-27-2010", "27.01.2010", "01/27/2010", "jan", "27/01/10",
             "6/16/14", "14-Jan-15", "3/15/65", "1.2.03", "10/1/7", "2010/1/27/10", None]
    df = spark.createDataFrame([(c,) for c in cells], "v string")
    for date_format in [*sf.DATE_FORMATS, "dd.MM.yyyy", "MM/dd/yyyy", "yyyy-MM-dd HH:mm"]:
        word = F.substring_index(F.trim("v"), " ", 1)
        if date_format.startswith("y"):
            word = F.substring_index(word, "T", 1)
        unshaped = F.to_date(F.try_to_timestamp(word, F.lit(date_format)))
        short = sf.two_digit_year(date_format)  # the same format with a two-digit year,
        if short is not None:  # tried on words of a short day or month first and a short
            # year last (Spark's lenient `d` reads 0001-01-01 as d-M-yy)
            unshaped = F.coalesce(unshaped, sf.in_two_digit_century(F.to_date(F.when(
                word.rlike(r"^\d{1,2}\D.*\D\d{2}$"), F.try_to_timestamp(word, F.lit(short))))))
        unshaped = sf.valid_day(unshaped)
        got = df.select(sf.valid_day(sf.text_date("v", date_format)).alias("gated"),
                        unshaped.alias("every")).collect()
        assert [r["gated"] for r in got] == [r["every"] for r in got], date_format
        assert any(r["every"] for r in got) or " " in date_format, date_format
    assert sf.date_format_shape("d-MMM-yyyy") == r"^\d{1,2}\-\p{L}+\-\d{4}$"
    assert sf.date_format_shape("yyyy-MM-dd HH:mm") is None
    assert sf.date_format_shape("yyyy-MM-dd'T'") is None


def test_a_snapshot_may_declare_no_column_and_infer_them_all():
    contract = contract_from_dict({"sources": {"snap": {"kind": "snapshot",
                                                        "location": "x.csv"}}}, "bank.yaml")
    assert contract.segments_only
    assert contract.snapshot.columns == ()
    with pytest.raises(ConfigError, match="sources.snap.columns: must declare at least one"):
        contract_from_dict({"sources": {"snap": {"kind": "snapshot", "location": "x.csv",
                                                 "undeclared_columns": "ignore"}}}, "bank.yaml")


def test_clients_are_held_out_by_a_hash_of_their_key(spark):
    rows = [(f"c{i}", None) for i in range(2000)] + [("from_test_file", "evaluation")]
    df = spark.createDataFrame(rows, "identity_id_hash string, split string")
    first = {r[0]: r[1] for r in df.transform(sf.held_out_by_key(0.2)).collect()}
    again = {r[0]: r[1] for r in df.transform(sf.held_out_by_key(0.2)).collect()}
    assert first == again  # the same clients on every run
    assert first["from_test_file"] == "evaluation"
    held = sum(1 for k, v in first.items() if v == "evaluation" and k != "from_test_file")
    assert 300 <= held <= 500  # 20 % of 2,000, give or take the hash
    assert set(first.values()) == {"train", "evaluation"}
    none = df.transform(sf.held_out_by_key(0.0)).where("split = 'evaluation'").count()
    assert none == 1


def test_inferred_names_never_clash_with_the_pipelines_or_each_other():
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}]).snapshot
    schema = T.StructType([T.StructField(n, T.DoubleType()) for n in
                           ("split", "Label", "a.b", "a_b", "holds_card", "Segment_ID", "age")]
                          + [T.StructField("y", T.StringType())])
    plan = sf.plan_columns(source, schema, {}, n_rows=10)
    assert {a.source_name: a.name for a in plan.attributes} == {
        "split": "c_split", "Label": "c_Label", "a.b": "a_b", "a_b": "a_b_2",
        "holds_card": "c_holds_card", "Segment_ID": "c_Segment_ID", "age": "age"}


def _transactions_contract(columns, **source):
    return contract_from_dict({"sources": {"log": {
        "kind": "snapshot", "grain": "transactions", "location": "x.csv", "columns": columns,
        **source}}}, "bank.yaml")


LOG_KEY_TIME = [{"name": "client", "role": "key"},
                {"name": "booked", "type": "date", "role": "time"}]


def test_a_transaction_log_is_summed_up_per_client(spark):
    source = _transactions_contract(
        [*LOG_KEY_TIME, {"name": "amount", "type": "double", "role": "amount"}]).snapshot
    schema = T.StructType([
        T.StructField("client", T.StringType()), T.StructField("booked", T.DateType()),
        T.StructField("amount", T.DoubleType()), T.StructField("qty", T.IntegerType()),
        T.StructField("channel", T.StringType()),
        T.StructField("transactions", T.IntegerType())])  # the bank's own column of that name
    day = dt.date
    rows = [("a", day(2024, 1, 1), 10.0, 1, "card", 7),
            ("a", day(2024, 1, 1), 20.0, 3, "web", 7),
            ("a", day(2024, 3, 1), None, 2, "web", 7),
            ("b", day(2024, 3, 30), 100.0, None, "card", 1),
            (None, day(2024, 3, 30), 5.0, 1, "card", 1)]  # no client: rejected, not summed
    df = spark.createDataFrame(rows, schema)
    plan = sf.plan_columns(source, df.schema, {"channel": 2, "qty": 3, "transactions": 2}, 5)
    assert plan.feature_names == ("transactions", "active_days", "recency_days", "tenure_days",
                                  "amount_total", "amount_average", "qty", "channel",
                                  "transactions_2")
    as_of = day(2024, 3, 31)
    conformed = df.transform(sf.conformed_snapshot(plan, source, (), AS_OF))
    assert {r["_reject"] for r in conformed.collect()} == {None, "MISSING_KEY"}
    clients = (conformed.filter("_reject IS NULL")
               .transform(sf.per_client_from_transactions(plan, as_of, ())))
    features = sf.snapshot_features(clients, plan, ())
    expected = spark.createDataFrame(
        [(as_of, "a", 3.0, 2.0, 30.0, 90.0, 30.0, 15.0, 2.0, "web", 7.0),
         (as_of, "b", 1.0, 1.0, 1.0, 1.0, 100.0, 100.0, None, "card", 1.0)],
        "as_of_date date, identity_id_hash string, transactions double, active_days double, "
        "recency_days double, tenure_days double, amount_total double, amount_average double, "
        "qty double, channel string, transactions_2 double")
    assert_df_equality(features, expected, ignore_row_order=True, ignore_nullable=True)


def test_the_summaries_take_the_amount_columns_name_and_rename_a_clashing_column():
    source = _transactions_contract(
        [*LOG_KEY_TIME, {"name": "Amount (EUR)", "type": "double", "role": "amount"}]).snapshot
    schema = T.StructType([T.StructField("client", T.StringType()),
                           T.StructField("booked", T.DateType()),
                           T.StructField("Amount (EUR)", T.DoubleType()),
                           T.StructField("Recency_Days", T.DoubleType())])
    plan = sf.plan_columns(source, schema, {}, 10)
    assert plan.feature_names == ("transactions", "active_days", "recency_days", "tenure_days",
                                  "Amount_EUR_total", "Amount_EUR_average", "Recency_Days_2")
    assert plan.amount == "Amount (EUR)"


def test_a_transaction_log_without_an_amount_has_the_counts_only():
    source = _transactions_contract(LOG_KEY_TIME).snapshot
    schema = T.StructType([T.StructField("client", T.StringType()),
                           T.StructField("booked", T.DateType())])
    plan = sf.plan_columns(source, schema, {}, 10)
    assert plan.feature_names == ("transactions", "active_days", "recency_days", "tenure_days")


@pytest.mark.parametrize(("columns", "source", "message"), [
    ([{"name": "client", "role": "key"}], {},
     "bank.yaml: sources.log.columns: a snapshot of grain transactions needs a column with role "
     "key (the client) and one with role time"),
    ([*LOG_KEY_TIME, {"name": "y", "role": "label", "product": "CARD"}], {},
     "bank.yaml: sources.log.columns: y: a snapshot of grain transactions has no label, "
     "holding or split column"),
    (LOG_KEY_TIME, {"evaluation_location": "y.csv"},
     "bank.yaml: sources.log.evaluation_location: a snapshot of grain transactions has no "
     "held-out table"),
    (LOG_KEY_TIME, {"outcome_column": "kind"},
     "bank.yaml: sources.log.outcome_values: outcome_column and outcome_values come together"),
    (LOG_KEY_TIME, {"outcome_column": "kind", "outcome_values": {"LOAN": ["loan"]}},
     "bank.yaml: sources.log.outcome_values: LOAN: not a product of the catalogue (CARD)"),
    (LOG_KEY_TIME, {"outcome_column": "kind", "outcome_values": {"CARD": [" "]}},
     "bank.yaml: sources.log.outcome_values.CARD: needs at least one non-empty value"),
])
def test_a_transaction_log_needs_a_key_and_a_time_and_has_no_outcome(columns, source,
                                                                      message):
    with pytest.raises(ConfigError) as err:
        contract_from_dict({"products": [{"code": "CARD"}], "sources": {"log": {
            "kind": "snapshot", "grain": "transactions", "location": "x.csv",
            "columns": columns, **source}}}, "bank.yaml")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "snapshot", "location": "x.csv",
      "columns": [{"name": "amount", "type": "double", "role": "amount"}]},
     "bank.yaml: sources.s.columns: role amount is for a snapshot of grain transactions"),
    ({"kind": "clients", "columns": [{"name": "id", "role": "key"}], "grain": "transactions"},
     "bank.yaml: sources.s.grain: only a snapshot source has a grain"),
    ({"kind": "clients", "columns": [
        {"name": "id", "role": "key"},
        {"name": "age", "type": "int", "role": "numeric", "expression": "2024 - born"}]},
     "bank.yaml: sources.s.columns: age: only the columns of a snapshot source may be "
     "computed"),
])
def test_grain_amount_and_expressions_belong_to_snapshots(source, message):
    with pytest.raises(ConfigError) as err:
        contract_from_dict({"key": {"column": "id"}, "products": [{"code": "CARD"}],
                            "sources": {"s": source}}, "bank.yaml")
    assert str(err.value).startswith(message)


TABLE = {"kind": "snapshot", "location": "c.csv", "columns": [{"name": "id", "role": "key"}]}
LOG = {"kind": "snapshot", "grain": "transactions", "location": "t.csv",
       "columns": [{"name": "id", "role": "key"}, {"name": "d", "type": "date", "role": "time"}]}


def test_a_client_table_and_a_log_beside_it_are_one_snapshot_and_its_log():
    contract = contract_from_dict({"products": [{"code": "CARD"}],
                                   "sources": {"log": LOG, "table": TABLE}}, "bank.yaml")
    assert contract.snapshot.name == "table"
    assert contract.snapshot_log.name == "log"
    alone = contract_from_dict({"products": [{"code": "CARD"}], "sources": {"log": LOG}},
                               "bank.yaml")
    assert (alone.snapshot.name, alone.snapshot_log) == ("log", None)


@pytest.mark.parametrize(("sources", "message"), [
    ({"a": TABLE, "b": TABLE}, "bank.yaml: sources: at most one snapshot source, or a client "
                               "table and a transaction log (grain transactions) beside it; "
                               "found a, b"),
    ({"a": LOG, "b": LOG}, "bank.yaml: sources: at most one snapshot source"),
    ({"a": TABLE, "b": {**LOG, "outcome_product": "CARD"}},
     "bank.yaml: sources.b.outcome_product: a transaction log beside a client table adds "
     "features to it"),
    ({"a": {**TABLE, "columns": [{"name": "age", "type": "int", "role": "numeric"}]}, "b": LOG},
     "bank.yaml: sources.a.columns: a client table beside a transaction log needs a column "
     "with role key"),
])
def test_snapshot_sources_beyond_a_table_and_its_log_are_refused(sources, message):
    with pytest.raises(ConfigError) as err:
        contract_from_dict({"products": [{"code": "CARD"}], "sources": sources}, "bank.yaml")
    assert str(err.value).startswith(message)


def test_two_logs_without_products_are_refused_for_being_two():
    with pytest.raises(ConfigError, match="at most one snapshot source"):
        contract_from_dict({"sources": {"a": LOG, "b": LOG}}, "bank.yaml")


def test_a_logs_features_are_renamed_where_the_client_table_has_the_name():
    table = sf.plan_columns(_contract([]).snapshot, T.StructType(
        [T.StructField("transactions", T.DoubleType())]), {}, 10)
    log_source = contract_from_dict({"products": [{"code": "CARD"}], "sources": {"log": {
        **LOG, "columns": [*LOG["columns"], {"name": "eur", "type": "double", "role": "amount"},
                           {"name": "transactions", "type": "double", "role": "numeric"}]}}},
        "bank.yaml").snapshot
    log = sf.plan_columns(log_source, T.StructType([]), {}, 10)
    renamed = sf.beside_client_table(table, log)
    assert [s.name for s in renamed.summaries] == [
        "transactions_2", "active_days", "recency_days", "tenure_days", "eur_total",
        "eur_average"]
    assert [a.name for a in renamed.attributes] == ["transactions_3"]


def test_an_encoding_spark_cannot_read_is_refused_and_common_names_are_understood():
    source = _contract([{"name": "y", "role": "label", "product": "CARD"}],
                       dialect={"encoding": "Windows-1252"}).snapshot
    assert source.dialect.charset == "iso-8859-1"
    with pytest.raises(ConfigError) as err:
        _contract([{"name": "y", "role": "label", "product": "CARD"}],
                  dialect={"encoding": "cp850"})
    assert str(err.value).startswith(
        "bank.yaml: sources.snap.dialect.encoding: 'cp850' is not an encoding Spark reads")


def test_nested_objects_become_dotted_columns(spark):
    df = spark.createDataFrame(
        [("p1", ("offer", (10.5, "EUR")), [1, 2])],
        "person string, value struct<kind: string, money: struct<amount: double, "
        "currency: string>>, tags array<int>")
    expected = spark.createDataFrame(
        [("p1", "offer", 10.5, "EUR", [1, 2])],
        "person string, `value.kind` string, `value.money.amount` double, "
        "`value.money.currency` string, tags array<int>")
    assert_df_equality(sf.flattened_structs(df), expected, ignore_nullable=True)


def test_buy_again_dates_are_outcome_days_apart_and_end_at_the_scoring_date():
    score = dt.date(2025, 1, 1)
    assert sf.outcome_cutoffs(dt.date(2024, 1, 1), score, 90, 4) == [
        dt.date(2024, 1, 7), dt.date(2024, 4, 6), dt.date(2024, 7, 5), dt.date(2024, 10, 3)]
    # a date needs a transaction before it
    assert sf.outcome_cutoffs(dt.date(2024, 6, 1), score, 90, 4) == [
        dt.date(2024, 7, 5), dt.date(2024, 10, 3)]
    assert sf.outcome_cutoffs(dt.date(2024, 12, 1), score, 90, 4) == []


def test_a_client_who_transacts_within_the_window_bought_again(spark):
    day = dt.date
    transactions = spark.createDataFrame(
        [("a", day(2024, 1, 5)), ("a", day(2024, 2, 1)), ("b", day(2024, 1, 9)),
         ("b", day(2024, 3, 1)), ("c", day(2024, 1, 2))],  # c: before, not after
        "identity_id_hash string, as_of_date date")
    clients = spark.createDataFrame([("a",), ("b",), ("c",)], "identity_id_hash string")
    got = clients.transform(sf.with_bought_again(transactions, "AGAIN", day(2024, 1, 10), 30))
    expected = spark.createDataFrame([("a", 1.0), ("b", 0.0), ("c", 0.0)],
                                     "identity_id_hash string, label_again double")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "snapshot", "location": "x.csv", "outcome_product": "CARD",
      "columns": [{"name": "y", "role": "label", "product": "CARD"}]},
     "bank.yaml: sources.s.outcome_product: only a snapshot of grain transactions has an "
     "outcome_product"),
    ({"kind": "snapshot", "grain": "transactions", "location": "x.csv",
      "outcome_product": "LOAN", "columns": LOG_KEY_TIME},
     "bank.yaml: sources.s.outcome_product: 'LOAN' is not a product of the catalogue"),
    ({"kind": "snapshot", "grain": "transactions", "location": "x.csv",
      "outcome_product": "CARD", "outcome_days": 0, "columns": LOG_KEY_TIME},
     "bank.yaml: sources.s.outcome_days: the days after an as-of date"),
])
def test_a_buy_again_outcome_belongs_to_a_transaction_log(source, message):
    with pytest.raises(ConfigError) as err:
        contract_from_dict({"products": [{"code": "CARD"}], "sources": {"s": source}},
                           "bank.yaml")
    assert str(err.value).startswith(message)


def test_numbers_with_a_decimal_comma_are_told_from_text_and_from_point_numbers():
    # (numbers, with a fraction, other text) read with a point, then with a comma
    point = {"rate": (40, 0, 60), "count": (100, 0, 0), "city": (0, 0, 100),
             "codes": (50, 0, 50)}
    comma = {"rate": (100, 60, 0), "count": (100, 0, 0), "city": (0, 0, 100),
             "codes": (100, 0, 0)}  # "1,2" list codes, no fraction: not decimals
    distinct = {"rate": 30, "count": 20, "city": 5, "codes": 4}
    assert sf.comma_decimal_columns(point, comma, distinct, 100) == {"rate": 0}
    # "1,234.50" in a tab-separated file: a number with a point once the thousands' commas
    # are read as grouping (with a fraction), so not a decimal comma (1.23450)
    point["money"], comma["money"], distinct["money"] = (30, 0, 70), (100, 100, 0), 90
    grouped = {"money": (100, 100, 0), "rate": (40, 0, 60), "count": (100, 0, 0),
               "city": (0, 0, 100), "codes": (50, 0, 50)}
    assert sf.comma_decimal_columns(point, comma, distinct, 100, grouped) == {"rate": 0}


def test_a_text_date_column_is_a_date_even_where_it_reads_as_a_number():
    # 27.01.2010 under a decimal comma reads as the number 27012010: the date wins
    source = _contract([]).snapshot
    schema = T.StructType([T.StructField("opened", T.StringType())])
    plan = sf.plan_columns(source, schema, {"opened": 90}, 100, {"opened": 0}, (),
                           {"opened": ("d.M.yyyy", 0, ())})
    assert [(a.name, a.kind, a.date_format) for a in plan.attributes] == [
        ("opened", "numeric", "d.M.yyyy")]
    assert sf.lenient_format("MM/dd/yyyy") == "M/d/yyyy"


def test_the_columns_an_outcome_expression_reads_are_not_features():
    source = _contract([
        {"name": "took_card", "role": "label", "product": "CARD",
         "expression": "lower(`Offer Taken`) = 'card' OR spend > 0"},
        {"name": "took_deposit", "role": "label", "product": "DEPOSIT",
         "expression": "offer_2 = 'spend' AND year(closed) > 2020"},
        {"name": "test_row", "role": "split", "expression": "age > 60"},
        {"name": "amount", "type": "double", "role": "numeric", "expression": "age * 2"},
    ]).snapshot
    names = ["Offer Taken", "spend", "spend_total", "offer", "offer_2", "age", "year", "closed"]
    # "spend" inside a string literal, "offer" inside "offer_2" and the function year() are
    # not reads of those columns; a split's and an attribute's expressions carry no outcome
    assert sf.outcome_inputs(source, names) == {
        "Offer Taken": "took_card", "spend": "took_card", "offer_2": "took_deposit",
        "closed": "took_deposit"}
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    plan = sf.plan_columns(source, schema, dict.fromkeys(names, 5), 1000)
    assert [a.source_name for a in plan.attributes] == ["amount", "spend_total", "offer", "age",
                                                       "year"]
    assert set(plan.outcome_inputs) == {"Offer Taken", "spend", "offer_2", "closed"}


def test_common_values_are_those_on_a_hundredth_of_the_filled_cells(spark):
    # 150 filled cells of a city: a value needs 1.5 of them; blanks count for nothing
    cities = ["Lisbon"] * 100 + [" Porto "] * 48 + ["Faro", "Braga", "", None, "  "]
    notes = [f"note {i}" for i in range(len(cities))]  # no value twice: free text
    df = spark.createDataFrame(list(zip(cities, notes, strict=True)), "city string, note string")
    got = sf.common_value_counts(["city", "note"])(df)
    expected = spark.createDataFrame([(0, "Lisbon", 100, 150), (0, "Porto", 48, 150)],
                                     "column int, value string, cells long, filled long")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True,
                       ignore_column_order=True)


def test_many_valued_text_keeps_its_common_values_only_where_they_hold_most_cells():
    counts = [("country", "PRT", 40, 100), ("country", "GBR", 10, 100),
              ("country", "FRA", 10, 100), ("country", "DEU", 10, 100),
              ("surname", "Smith", 2, 100), ("surname", "Jones", 2, 100)]
    found = sf.common_levels(counts, max_categories=3)
    # at most max_categories, most frequent first, ties in sort order
    assert found == {"country": (("PRT", "DEU", "FRA"), 0.6)}  # surnames: 4 % is free text
    assert sf.many_valued_text(["a", "b", "c"], {"a": 150, "b": 50, "c": 990}, 1000, 100) == [
        "a"]  # b is a category already, c an id


def test_a_many_valued_column_is_a_category_of_its_common_values_and_other(spark):
    source = _contract([{"name": "y", "role": "label", "product": "DEPOSIT"}]).snapshot
    schema = T.StructType([T.StructField("country", T.StringType()),
                           T.StructField("surname", T.StringType())])
    plan = sf.plan_columns(source, schema, {"country": 150, "surname": 400}, n_rows=1000,
                           common={"country": (("PRT", "GBR"), 0.8)})
    assert [(a.name, a.kind, a.levels) for a in plan.attributes] == [
        ("country", "categorical", ("PRT", "GBR"))]
    assert plan.ignored == ("surname",)
    df = spark.createDataFrame([("PRT",), (" GBR ",), ("ESP",), ("",), (None,)], "v string")
    assert [r[0] for r in df.select(sf._categorical("v", ("PRT", "GBR"))).collect()] == [
        "PRT", "GBR", sf.OTHER, "UNKNOWN", "UNKNOWN"]


def test_a_column_typed_differently_in_two_files_is_text_in_both(spark):
    train = spark.createDataFrame([(1, 2.5e10, 3), (2, 0.1, 4)], "id int, v double, n int")
    held = spark.createDataFrame([("3", "NA", 5.5)], "id string, v string, n double")
    first, second = sf.with_types_of_both(train, held)
    assert [f.dataType for f in first.schema.fields] == [
        T.StringType(), T.StringType(), T.IntegerType()]  # two number types: the union's
    both = first.unionByName(second)
    assert [r[0] for r in both.select(sf.text_number("v")).collect()] == [2.5e10, 0.1, None]
    assert [r["id"] for r in both.collect()] == ["1", "2", "3"]


def test_a_many_valued_column_whose_values_repeat_becomes_take_up_rates():
    # 150 routes on 1,000 rows (about 7 a route), none common; 400 surnames (2.5 a surname)
    labels = [{"name": "y", "role": "label", "product": "DEPOSIT"},
              {"name": "card_bought", "role": "label", "product": "CARD"}]
    schema = T.StructType([T.StructField(n, T.StringType())
                           for n in ("route", "surname", "y", "card_bought", "month")])
    distinct = {"route": 150, "surname": 400}
    plan = sf.plan_columns(_contract(labels).snapshot, schema, distinct, n_rows=1000)
    assert [(a.name, a.kind) for a in plan.attributes] == [("route", sf.TAKE_UP),
                                                           ("month", "categorical")]
    assert plan.ignored == ("surname",)
    assert plan.feature_names == ("takeup_deposit_route", "takeup_card_route", "month")
    # no label to count, or one row per client and month: left out as before
    unlabelled = _contract([{"name": "y", "role": "ignore"},
                            {"name": "card_bought", "role": "ignore"}]).snapshot
    monthly = _contract([*labels, {"name": "month", "role": "time", "type": "date"}]).snapshot
    for source in (unlabelled, monthly):
        plan = sf.plan_columns(source, schema, distinct, n_rows=1000)
        assert "route" in plan.ignored
        assert not plan.take_up_columns
    # a feature of the bank's own named like a take-up column is renamed
    named = sf.distinct_feature_names([sf.Attribute("takeup_x", "takeup_x", "numeric")])
    assert named[0].name == "c_takeup_x"


def test_take_up_rates_leave_out_the_rows_own_fold_and_the_held_out_rows(spark):
    # route a: 6 training rows (3 buyers), a held-out buyer, an unlabelled row; route b: 4
    # training rows (no buyer); route c only held out
    rows = [(f"k{i}", r, y, s) for i, (r, y, s) in enumerate([
        ("a", 1.0, "train"), ("a", 1.0, "train"), ("a", 1.0, "train"), ("a", 0.0, "train"),
        ("a", 0.0, "train"), ("a", 0.0, None), ("a", 1.0, "evaluation"), ("a", None, "train"),
        ("b", 0.0, "train"), ("b", 0.0, "train"), ("b", 0.0, "train"), ("b", 0.0, None),
        ("c", 1.0, "evaluation")])]
    df = spark.createDataFrame(rows, "identity_id_hash string, route string, "
                                     "label_deposit double, split string")
    plan = sf.SnapshotPlan(key="id", time=None, split=None,
                           labels={"DEPOSIT": None}, holdings={},  # type: ignore[dict-item]
                           attributes=(sf.Attribute("route", "route", sf.TAKE_UP),), ignored=())
    got = {r["identity_id_hash"]: r["takeup_deposit_route"]
           for r in df.transform(sf.with_take_up_rates(plan)).collect()}
    # the same in plain Python: folds as the transform hashes them
    folds = {r[0]: r[1] for r in df.selectExpr(
        "identity_id_hash", f"pmod(xxhash64(identity_id_hash, 'segrec-take-up'), "
                            f"{sf.TAKE_UP_FOLDS})").collect()}
    training = [(k, r, y) for k, r, y, s in rows if y is not None and s != "evaluation"]
    prior = sum(y for _, _, y in training) / len(training)
    m = sf.TAKE_UP_SMOOTHING
    expected = {}
    for key, route, label, split in rows:
        own = label is not None and split != "evaluation"
        counted = [y for k, r, y in training if r == route
                   and not (own and folds[k] == folds[key])]
        expected[key] = (sum(counted) + m * prior) / (len(counted) + m)
    assert got == pytest.approx(expected)
    assert got["k12"] == pytest.approx(prior)  # a value no training row holds: the prior
    assert len(set(folds.values())) > 1  # the rows fall in several folds

"""The snapshot job's edges: reading a delivered table, refusing what would lose rows."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml

from segrec_spark.contract import contract_from_dict
from segrec_spark.errors import InputDataError
from segrec_spark.propensity.learners import uses_cv
from segrec_spark.propensity.settings import PropensitySettings
from segrec_spark.propensity.tracking import delivered_columns
from segrec_spark.segmentation import model as seg
from segrec_spark.snapshot import frames as sf
from segrec_spark.snapshot import job
from segrec_spark.tables import read_table, table_path
from tests.conftest import make_config


def _config(tmp, columns, **source):
    contract = {"products": [{"code": "DEPOSIT"}],
                "sources": {"calls": {"kind": "snapshot", "location": str(tmp / "train.csv"),
                                      "columns": columns, **source}}}
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    return make_config(tmp, f"paths.contract={tmp / 'contract.yaml'}")


def test_a_key_in_both_files_is_refused_in_one_line(spark, tmp_path):
    (tmp_path / "train.csv").write_text("id,age,y\n1,30,yes\n2,40,no\n3,50,no\n")
    (tmp_path / "test.csv").write_text("id,age,y\n3,35,yes\n4,45,no\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  evaluation_location=str(tmp_path / "test.csv"))
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    message = str(err.value)
    assert "1 key(s) of" in message
    assert "test.csv also appear in the training table (e.g. 3)" in message
    assert "\n" not in message


def test_byte_order_mark_and_counts_add_up(spark, tmp_path):
    (tmp_path / "train.csv").write_text("\ufeffid,age,y\n1,30,yes\n,40,no\n2,50,no\n2,55,yes\n",
                                        encoding="utf-8")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    summary = job.run(spark, cfg)
    assert summary["rows_read"] == 4
    assert summary["accepted"] == 2
    assert summary["quarantined"] == {"MISSING_KEY": 1, "DUPLICATE_KEY": 1}
    quarantine = read_table(spark, table_path(cfg.paths.root, "ops", "snapshot_quarantine"))
    assert sorted(r["reason"] for r in quarantine.collect()) == ["DUPLICATE_KEY", "MISSING_KEY"]


def test_forgotten_keys_are_dropped_counted_and_never_quarantined(spark, tmp_path):
    # Client 3 was erased (segrec forget); its row comes back in the next snapshot.
    (tmp_path / "train.csv").write_text("id,age,y\n1,30,yes\n3,40,no\n3,41,no\n2,50,no\n",
                                        encoding="utf-8")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    tombstones = table_path(cfg.paths.root, "ops", "forgotten_clients")
    spark.createDataFrame([("key", "3", dt.datetime(2026, 12, 1))],
                          "kind string, value string, forgotten_at timestamp"
                          ).write.format("delta").save(tombstones)
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"], summary["forgotten"]) == (4, 2, 2)
    assert summary["quarantined"] == {}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted(r[0] for r in features.select("identity_id_hash").collect()) == ["1", "2"]
    quarantine = read_table(spark, table_path(cfg.paths.root, "ops", "snapshot_quarantine"))
    assert quarantine.count() == 0


def test_a_description_line_under_the_header_leaves_the_number_columns_numeric(
        spark, tmp_path):
    lines = ["id,income,y", "Client number,Yearly income in EUR,Took the deposit"]
    lines += [f"{i},{'yes' if i == 5 else 1000 + 10 * (i % 30)},{'yes' if i % 4 == 0 else 'no'}"
              for i in range(1, 241)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0, undeclared_columns="infer")
    summary = job.run(spark, cfg)
    assert summary["rows_read"] == summary["accepted"] == 241
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["income"] == "numeric; 2 cells not a number read as missing"
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    incomes = {r["identity_id_hash"]: r["income"] for r in features.collect()}
    assert incomes["Client number"] is None
    assert incomes["5"] is None  # a stray "yes" among numbers is no 1.0
    assert incomes["7"] == 1070.0


@pytest.mark.parametrize(("line", "declared", "found"), [
    ("id\tage\ty", ",", "\t"),  # a tab-separated export read with the default
    ('id;"a, b";y', ",", ";"),  # a comma inside quotes is not a delimiter
    ("id,age;x,y", ",", None),  # the declared delimiter is there: kept
    ("id", ",", None),  # one column
    ("id|age|y", ";", "|"),
])
def test_the_delimiter_a_file_is_written_with(line, declared, found):
    assert job.sniffed_delimiter(line, declared) == found


def test_a_tab_separated_file_is_read_without_declaring_its_delimiter(spark, tmp_path):
    (tmp_path / "train.csv").write_text("id\tage\ty\n1\t30\tyes\n2\t40\tno\n3\t50\tno\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (3, 3)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted(r["age"] for r in features.collect()) == [30.0, 40.0, 50.0]


def test_a_semicolon_file_with_decimal_commas_is_read_without_declaring_either(spark,
                                                                             tmp_path,
                                                                             monkeypatch):
    (tmp_path / "train.csv").write_text(
        "id;rate;balance;town;fee;y\n1;0,5;1.234,50;Brno;1.5;yes\n2;1,25;-20;Praha;NA;no\n"
        "3;2;NA;Brno;2;no\n4;0,75;3,5;Praha;0.5;no\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    read_with_a_comma = set()
    real = sf.number_text_counts
    monkeypatch.setattr(sf, "number_text_counts", lambda name, decimal=".", grouping=True: (
        read_with_a_comma.add(name) if decimal == "," else None) or real(name, decimal, grouping))
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: (r["rate"], r["balance"], r["fee"])
           for r in features.collect()}
    assert got == {"1": (0.5, 1234.5, 1.5), "2": (1.25, -20.0, None), "3": (2.0, None, 2.0),
                   "4": (0.75, 3.5, 0.5)}
    # the decimal-comma reading is tried on the columns with a comma in a cell only
    assert read_with_a_comma == {"rate", "balance"}
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["rate"] == "numeric (decimal comma)"


def test_money_percentages_and_text_dates_are_features_as_exported(spark, tmp_path):
    (tmp_path / "train.csv").write_text(
        'id,balance,rate,opened,since,y\n'
        '1,"$3,983.17",18.2%,27/01/2010,6/16/14,yes\n'
        '2,"(1,200.00)",5%,05/02/2011 09:30,05/11/2014,no\n'
        '3,$15,NA,,3/15/65,no\n'
        '4,"$1,000,000",0.5%,13/12/1999,,no\n')
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: (r["balance"], r["rate"], r["opened"], r["since"])
           for r in features.collect()}
    days = {d: float((d - dt.date(1970, 1, 1)).days) for d in (
        dt.date(2010, 1, 27), dt.date(2011, 2, 5), dt.date(1999, 12, 13),
        dt.date(2014, 6, 16), dt.date(2014, 5, 11), dt.date(1965, 3, 15))}
    # since: month first, its year written with two digits or four (1965, not 2065)
    assert got == {"1": (3983.17, 18.2, days[dt.date(2010, 1, 27)], days[dt.date(2014, 6, 16)]),
                   "2": (-1200.0, 5.0, days[dt.date(2011, 2, 5)], days[dt.date(2014, 5, 11)]),
                   "3": (15.0, None, None, days[dt.date(1965, 3, 15)]),
                   "4": (1e6, 0.5, days[dt.date(1999, 12, 13)], None)}
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["opened"] == "numeric (dates d/M/yyyy, as days since 1970-01-01)"
    assert columns["since"] == "numeric (dates M/d/yyyy, as days since 1970-01-01)"
    assert columns["balance"] == "numeric"
    assert delivered_columns(cfg, features).dates == {"opened", "since"}  # later / earlier


def test_a_date_column_read_whole_is_a_notice_and_one_that_loses_cells_a_warning(spark,
                                                                              caplog):
    contract = contract_from_dict({"products": [{"code": "DEPOSIT"}], "sources": {"snap": {
        "kind": "snapshot", "location": "x.csv", "columns": [
            {"name": "y", "role": "label", "product": "DEPOSIT"}]}}}, "bank.yaml")
    days = [dt.date(2010, 1, 1) + dt.timedelta(days=d) for d in range(199)]
    rows = [(str(day), str(day + dt.timedelta(days=400))) for day in days]
    df = spark.createDataFrame([*rows, ("1999-12-13", "2012-13-45")],  # a 13th month
                               "opened string, closed string")
    counts = {"opened": 200, "closed": 200}  # under sf.STRAY_TEXT_SHARE not a date
    with caplog.at_level("INFO", logger=job.log.name):
        dates = job._text_dates(df, contract.snapshot, counts, counts)
    assert set(dates) == {"opened", "closed"}
    levels = {r.getMessage().split()[3]: r.levelname for r in caplog.records}
    assert levels == {"closed": "WARNING", "opened": "INFO"}


def test_a_declared_two_digit_date_format_reads_1940_to_2039_and_keeps_the_text(spark,
                                                                            tmp_path):
    # Every cell of `born` fits the declared M/d/yy, so Spark's CSV reader alone would type
    # the column as dates of 2000-2099 (a client born in 2065) and quarantine the parsed day.
    (tmp_path / "train.csv").write_text(
        "id,born,y\n1,3/15/65,yes\n2,12/1/01,no\n2,7/4/76,no\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0, dialect={"date_format": "M/d/yy"})
    summary = job.run(spark, cfg)
    assert summary["quarantined"] == {"DUPLICATE_KEY": 1}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: r["born"] for r in features.collect()}
    assert got == {"1": float((dt.date(1965, 3, 15) - dt.date(1970, 1, 1)).days),
                   "2": float((dt.date(2001, 12, 1) - dt.date(1970, 1, 1)).days)}
    quarantine = read_table(spark, table_path(cfg.paths.root, "ops", "snapshot_quarantine"))
    assert '"born":"7/4/76"' in quarantine.first()["raw_record"]


def test_a_column_of_many_values_keeps_its_common_ones_as_categories(spark, tmp_path):
    # 120 clients: a branch of 7 values (max_categories 5), two of them on one row each
    # (under 1 % of 120 cells is under 1.2); and a name on nearly every row (free text)
    branches = ["north"] * 40 + ["south"] * 30 + ["east"] * 20 + ["west"] * 15 + \
        ["port"] * 13 + ["hill"] + ["lake"]
    rows = [f"{i},{b},name{i % 100},{'yes' if i % 3 == 0 else 'no'}"
            for i, b in enumerate(branches)]
    (tmp_path / "train.csv").write_text("id,branch,name,y\n" + "\n".join(rows) + "\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0, max_categories=5)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: r["branch"] for r in features.collect()}
    assert got == {str(i): b if b not in ("hill", "lake") else "OTHER"
                   for i, b in enumerate(branches)}
    assert "name" not in features.columns
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["branch"] == "categorical (5 common values, 98% of the cells; the others " \
        "as OTHER)"
    assert columns["name"] == "ignored"


def test_a_column_of_many_repeated_values_becomes_each_products_take_up(spark, tmp_path):
    # 120 training clients on 20 routes, 6 each (max_categories 5: the 5 commonest hold 25 %
    # of the cells, too few to keep as categories), and 40 names, 3 each: the routes repeat
    # enough to count a take-up per route, the names are free text.
    routes = [f"r{i % 20}" for i in range(120)]
    names = [f"n{i % 40}" for i in range(120)]
    rows = [f"{i},{r},{n},{'yes' if i % 20 < 5 else 'no'}"
            for i, (r, n) in enumerate(zip(routes, names, strict=True))]
    (tmp_path / "train.csv").write_text("id,route,name,y\n" + "\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("id,route,name,y\n500,r0,n0,no\n501,zz,n1,\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  evaluation_location=str(tmp_path / "test.csv"), max_categories=5)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert "route" not in features.columns
    assert "name" not in features.columns
    got = {r["identity_id_hash"]: r["takeup_deposit_route"] for r in features.collect()}
    m, prior = sf.TAKE_UP_SMOOTHING, 30 / 120  # routes r0-r4 always buy: 30 of 120
    # held-out clients: every training client counts; a route never trained on is the prior
    assert got["500"] == pytest.approx((6 + m * prior) / (6 + m))
    assert got["501"] == pytest.approx(prior)
    # a training client's own fold is left out: fewer than 6 clients of its route counted
    assert all(v > prior for k, v in got.items() if k not in ("500", "501") and int(k) % 20 < 5)
    assert got["0"] < (6 + m * prior) / (6 + m)
    columns = {r["column"]: (r["feature"], r["used_as"]) for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["route"] == ("takeup_deposit_route", "take-up of DEPOSIT among the "
                                "training clients with the same value (out of fold)")
    assert columns["name"] == (None, "ignored")


def test_take_up_columns_are_left_out_of_a_table_of_several_as_of_dates(tmp_path):
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    source = job.snapshot_source(cfg)
    plan = sf.SnapshotPlan(key="id", time=None, split=None, labels={"DEPOSIT": None},
                           holdings={}, attributes=(sf.Attribute("age", "age", "numeric"),
                                                    sf.Attribute("route", "route", sf.TAKE_UP)),
                           ignored=("name",))  # type: ignore[dict-item]
    assert job._take_up_plan(source, plan, 1, with_log=False) is plan
    for dates, with_log in ((2, False), (1, True)):  # several months, or a log beside it
        left = job._take_up_plan(source, plan, dates, with_log)
        assert left.feature_names == ("age",)
        assert left.ignored == ("name", "route")


def test_a_number_column_with_na_in_one_file_only_is_a_number_in_both(spark, tmp_path):
    # the reader infers each file's types from its own cells: int here, text in the other
    (tmp_path / "train.csv").write_text("id,children,y\n1,2,yes\n2,0,no\n3,NA,no\n")
    (tmp_path / "test.csv").write_text("id,children,y\n4,1,yes\n5,3,no\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  evaluation_location=str(tmp_path / "test.csv"))
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert {r["identity_id_hash"]: r["children"] for r in features.collect()} == {
        "1": 2.0, "2": 0.0, "3": None, "4": 1.0, "5": 3.0}


def test_an_excel_workbook_is_read_like_a_csv_file(spark, tmp_path):
    import pandas as pd
    clients = pd.DataFrame({
        "id": [101, 102, 103, 104],
        "age": [30, None, 52.5, 41],
        "opened": pd.to_datetime(["2010-01-27", "2011-02-05", None, "1999-12-13"]),
        "job": ["admin.", "", "technician", "admin."],
        "online": [True, False, None, True],  # Excel's booleans, as a CSV reader's
        "y": ["yes", "no", "no", "yes"]})
    with pd.ExcelWriter(tmp_path / "clients.xlsx") as book:
        pd.DataFrame({"note": ["not this sheet"]}).to_excel(book, sheet_name="readme",
                                                            index=False)
        clients.to_excel(book, sheet_name="clients", index=False)
    contract = {"products": [{"code": "DEPOSIT"}],
                "sources": {"calls": {"kind": "snapshot", "format": "xlsx",
                                      "location": str(tmp_path / "clients.xlsx"),
                                      "dialect": {"sheet": "clients"}, "holdout_share": 0,
                                      "columns": [{"name": "id", "role": "key"},
                                                  {"name": "y", "role": "label",
                                                   "product": "DEPOSIT"}]}}}
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(contract))
    cfg = make_config(tmp_path, f"paths.contract={tmp_path / 'contract.yaml'}")
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (4, 4)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: (r["age"], r["opened"], r["job"], r["online"])
           for r in features.collect()}
    day = {d: float((d - dt.date(1970, 1, 1)).days) for d in (
        dt.date(2010, 1, 27), dt.date(2011, 2, 5), dt.date(1999, 12, 13))}
    assert got == {"101": (30.0, day[dt.date(2010, 1, 27)], "admin.", 1.0),
                   "102": (None, day[dt.date(2011, 2, 5)], "UNKNOWN", 0.0),
                   "103": (52.5, None, "technician", None),
                   "104": (41.0, day[dt.date(1999, 12, 13)], "admin.", 1.0)}
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert sorted((r["identity_id_hash"], r["label"]) for r in labels.collect()) == [
        ("101", 1), ("102", 0), ("103", 0), ("104", 1)]
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["opened"] == "numeric (dates yyyy-MM-dd, as days since 1970-01-01)"
    # without dialect.sheet the first sheet is read: it lacks the columns, the line says where
    del contract["sources"]["calls"]["dialect"]
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(contract))
    with pytest.raises(InputDataError) as err:
        job.run(spark, make_config(tmp_path, f"paths.contract={tmp_path / 'contract.yaml'}"))
    assert str(err.value) == (
        f"snapshot calls: the first sheet 'readme' of {tmp_path / 'clients.xlsx'} lacks "
        f"declared column(s) id; sheet 'clients' holds them: set "
        f"sources.calls.dialect.sheet: clients (its sheets: readme, clients)")


def test_a_file_that_is_no_workbook_is_named_in_one_line(spark, tmp_path):
    (tmp_path / "train.csv").write_text("id,y\n1,yes\n")
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="xlsx")
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    assert "train.csv as an Excel workbook (xlsx)" in str(err.value)
    assert "\n" not in str(err.value)
    # an Excel 97-2003 workbook (.xls) is named as such, with what to do
    (tmp_path / "train.xls").write_bytes(job.OLD_EXCEL_SIGNATURE + bytes(504))
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="xlsx", location=str(tmp_path / "train.xls"))
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    assert str(err.value) == (
        f"snapshot calls: {tmp_path / 'train.xls'} is an Excel 97-2003 workbook (.xls), which "
        f"is not read: save it as .xlsx (format: xlsx) or as CSV")


def test_a_file_in_a_windows_code_page_is_read_with_its_accents(spark, tmp_path):
    (tmp_path / "train.csv").write_bytes(
        "id,job,y\n1,Médico,yes\n2,Técnico,no\n3,Médico,no\n".encode("cp1252"))
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted(r["job"] for r in features.collect()) == ["Médico", "Médico", "Técnico"]


def test_a_missing_declared_column_names_the_file(spark, tmp_path):
    (tmp_path / "train.csv").write_text("id,age\n1,30\n")
    cfg = _config(tmp_path, [{"name": "y", "role": "label", "product": "DEPOSIT"}])
    with pytest.raises(InputDataError, match=r"train.csv lacks declared column\(s\) y"):
        job.run(spark, cfg)


def test_validation_auto_uses_folds_only_while_rows_are_few():
    settings = PropensitySettings(validation="auto", cv_max_rows=1000)
    assert uses_cv(settings, 999)
    assert not uses_cv(settings, 1001)
    assert uses_cv(PropensitySettings(validation="cv"), 10**9)
    assert not uses_cv(PropensitySettings(validation="split"), 10)


def test_nothing_numeric_to_cluster_gives_one_segment(spark):
    features = spark.createDataFrame([("a", "x"), ("b", "y")], "identity_id_hash string, job string")
    fitted = seg.fit_segmentation(features, seg.SegmentationSettings())
    assigned = seg.assign_segments(fitted.model, features).collect()
    assert {(r["segment_id"], r["segment_name"]) for r in assigned} == {(0, "all clients")}
    assert seg.segment_names_map(fitted.model) == {0: "all clients"}


def test_a_number_column_with_blank_and_na_cells_is_a_number_feature(spark, tmp_path):
    # The CSV reader infers text for a column of numbers with a blank or "NA" cell (a common
    # export): it must stay a number feature, its empty cells missing values, not be dropped as
    # free text or split into categories.
    rows = [f"{i},{30 + i},{10.5 + i:.2f},{'yes' if i % 3 else 'no'}" for i in range(1, 40)]
    rows += ["40,70, ,no", "41,71,NA,yes", "42,72,,no"]
    (tmp_path / "train.csv").write_text("id,age,total,y\n" + "\n".join(rows) + "\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    summary = job.run(spark, cfg)
    assert "total" not in summary["ignored"]
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert dict(features.dtypes)["total"] == "double"
    got = {r["identity_id_hash"]: r["total"] for r in features.collect()}
    assert got["1"] == pytest.approx(11.5)
    assert [got["40"], got["41"], got["42"]] == [None, None, None]


def test_a_product_without_an_outcome_is_named_in_a_warning(caplog):
    from pyspark.sql import types as T

    contract = contract_from_dict({
        "products": [{"code": "DEPOSIT"}, {"code": "CARD"}, {"code": "LOAN"}],
        "sources": {"snap": {"kind": "snapshot", "location": "x.csv", "columns": [
            {"name": "y", "role": "label", "product": "DEPOSIT"},
            {"name": "has_card", "role": "holding", "product": "CARD"}]}}}, "bank.yaml")
    source = contract.snapshot
    schema = T.StructType([T.StructField("y", T.StringType()),
                           T.StructField("has_card", T.StringType())])
    plan = sf.plan_columns(source, schema, {}, n_rows=10)
    with caplog.at_level("WARNING", logger=job.log.name):
        job._warn_unlabelled(source, plan, contract.product_codes)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2  # DEPOSIT has its label
    assert "product CARD has no outcome" in warned[0]
    assert "role time" in warned[0]
    assert "product LOAN has no outcome" in warned[1]
    assert "role label" in warned[1]


def test_products_listed_without_any_outcome_are_named_as_segmented_only(caplog):
    from pyspark.sql import types as T

    contract = contract_from_dict({
        "products": [{"code": "DEPOSIT"}, {"code": "CARD"}],
        "sources": {"snap": {"kind": "snapshot", "location": "x.csv", "columns": [
            {"name": "id", "type": "string", "role": "key"}]}}}, "bank.yaml")
    assert contract.segments_only
    schema = T.StructType([T.StructField("id", T.StringType())])
    plan = sf.plan_columns(contract.snapshot, schema, {}, n_rows=10)
    with caplog.at_level("INFO", logger=job.log.name):
        job._warn_unlabelled(contract.snapshot, plan, contract.product_codes)
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "product(s) DEPOSIT, CARD of the catalogue have no outcome" in record.getMessage()
    assert "segmented only" in record.getMessage()


def test_as_of_dates_that_do_not_parse_name_the_column_and_the_format(spark, tmp_path):
    (tmp_path / "train.csv").write_text("id,month,y\n1,201501,yes\n2,201501,no\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "month", "type": "date", "role": "time"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    message = str(err.value)
    assert "no usable row (rejected: {'BAD_TIMESTAMP': 2})" in message
    assert "time column 'month'" in message
    assert "date_format 'yyyy-MM-dd'" in message
    assert "\n" not in message


def test_a_time_column_written_day_first_is_read_without_declaring_its_format(spark,
                                                                           tmp_path):
    (tmp_path / "train.csv").write_text(
        "id,month,y\n1,31/01/2024,yes\n2,31/01/2024,no\n1,29/02/24 00:00,no\n"
        "2,29/02/24 00:00,yes\n")  # the year written with four digits or two
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "month", "type": "date", "role": "time"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (4, 4)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted({r["as_of_date"] for r in features.collect()}) == [
        dt.date(2024, 1, 31), dt.date(2024, 2, 29)]


def test_the_log_names_a_time_columns_two_digit_years_as_written(spark, caplog):
    contract = contract_from_dict({"products": [{"code": "DEPOSIT"}], "sources": {"log": {
        "kind": "snapshot", "location": "x.csv", "columns": [
            {"name": "day", "type": "date", "role": "time"},
            {"name": "y", "role": "label", "product": "DEPOSIT"}]}}}, "bank.yaml")
    df = spark.createDataFrame([("14-Jan-15",), ("3-Feb-15",), ("1-Mar-2015",)], "day string")
    with caplog.at_level("WARNING", logger=job.log.name):
        source = job._with_time_format(df, contract.snapshot, "day")
    assert source.dialect.date_format == "d-MMM-yyyy"  # which reads both
    [message] = [r.getMessage() for r in caplog.records]
    assert "the time column day is written d-MMM-yy, not in the dialect's" in message


HEADERLESS = "".join(f"{i},{20 + i},{'TRUE' if i % 3 == 0 else 'FALSE'}\n" for i in range(1, 13))


def test_a_file_without_a_header_takes_the_declared_names_in_order(spark, tmp_path):
    (tmp_path / "train.csv").write_text(HEADERLESS)
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "age", "type": "double", "role": "numeric"},
                             {"name": "bought", "role": "label", "product": "DEPOSIT",
                              "positive": ["TRUE"]}],
                  dialect={"header": False})
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (12, 12)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    bought = {r["identity_id_hash"] for r in labels.where("label = 1").collect()}
    assert bought == {"3", "6", "9", "12"}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert {r["identity_id_hash"]: r["age"] for r in features.collect()}["5"] == 25.0


def test_a_file_without_a_header_can_name_its_columns_by_position(spark, tmp_path):
    (tmp_path / "train.csv").write_text(HEADERLESS)
    cfg = _config(tmp_path, [{"name": "_c0", "type": "long", "role": "key"},
                             {"name": "_c2", "role": "label", "product": "DEPOSIT",
                              "positive": ["true"]}],
                  dialect={"header": False})
    summary = job.run(spark, cfg)
    assert summary["accepted"] == 12
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert labels.where("label = 1").count() == 4


def test_a_file_without_a_header_and_too_few_declared_columns_is_refused(spark, tmp_path):
    (tmp_path / "train.csv").write_text(HEADERLESS)
    cfg = _config(tmp_path, [{"name": "bought", "role": "label", "product": "DEPOSIT"}],
                  dialect={"header": False})
    with pytest.raises(InputDataError, match=r"train.csv has no header line \(dialect header: "
                       r"false\) and 3 columns, but the contract has 1 declared column\(s\): list "
                       r"every column in file order in names"):
        job.run(spark, cfg)


def test_a_file_without_a_header_takes_its_names_and_infers_the_rest(spark, tmp_path):
    (tmp_path / "train.csv").write_text(HEADERLESS)
    cfg = _config(tmp_path, [{"name": "bought", "role": "label", "product": "DEPOSIT",
                              "positive": ["TRUE"]}],
                  dialect={"header": False}, names=["id", "age", "bought"])
    summary = job.run(spark, cfg)
    assert summary["accepted"] == 12
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert "age" in features.columns
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert labels.where("label = 1").count() == 4


def test_a_data_row_read_as_the_header_is_named_as_the_likely_cause(spark, tmp_path):
    (tmp_path / "train.csv").write_text(HEADERLESS)
    cfg = _config(tmp_path, [{"name": "bought", "role": "label", "product": "DEPOSIT"}])
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    message = str(err.value)
    assert "lacks declared column(s) bought" in message
    assert "the first line looks like a data row" in message
    assert "set dialect header: false" in message
    assert "\n" not in message


def test_a_line_of_codes_above_the_real_header_is_named(spark, tmp_path):
    # as UCI's credit-card default file: X1, X2, ... above the real names
    (tmp_path / "train.csv").write_text(
        ",X1,X2,Y\nID,LIMIT_BAL,AGE,default payment next month\n1,20000,24,1\n2,1000,30,0\n")
    cfg = _config(tmp_path, [{"name": "ID", "role": "key"},
                             {"name": "default payment next month", "role": "label",
                              "product": "DEPOSIT"}])
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    assert str(err.value) == (
        f"snapshot calls: {tmp_path / 'train.csv'} lacks declared column(s) ID, default payment "
        f"next month (found: _c0, X1, X2, Y); line 2 of the file holds them: the line(s) above "
        f"it are read as the header: delete them from the file")


def test_a_held_out_file_without_the_label_column_is_scored_not_labelled(spark, tmp_path):
    # A competition's test file: the same columns without the outcome.
    (tmp_path / "train.csv").write_text("id,age,y\n1,30,yes\n2,40,no\n3,50,no\n")
    (tmp_path / "test.csv").write_text("id,age\n4,35\n5,45\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  evaluation_location=str(tmp_path / "test.csv"))
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (5, 5)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert sorted(r["identity_id_hash"] for r in labels.collect()) == ["1", "2", "3"]
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted(r["identity_id_hash"] for r in features.collect()) == ["1", "2", "3", "4", "5"]


def test_numbers_with_a_decimal_comma_are_numbers_under_that_dialect(spark, tmp_path):
    # A continental export: ";" between fields, "," before the decimals, "." between thousands.
    (tmp_path / "train.csv").write_text(
        "id;balance;rate;age;y\n1;1.234,50;0,5;30;yes\n2;12,25;1,25;40;no\n"
        "3;;2,0;30;no\n4;1.000;3,5;40;yes\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  dialect={"delimiter": ";", "decimal": ","})
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert {"balance": "double", "rate": "double"}.items() <= dict(features.dtypes).items()
    got = {r["identity_id_hash"]: (r["balance"], r["rate"], r["age"]) for r in features.collect()}
    assert got == {"1": (1234.5, 0.5, 30.0), "2": (12.25, 1.25, 40.0), "3": (None, 2.0, 30.0),
                   "4": (1000.0, 3.5, 40.0)}


def test_one_labelled_file_holds_out_a_share_of_its_clients(spark, tmp_path):
    rows = "".join(f"{i},{20 + i % 50},{'yes' if i % 4 == 0 else 'no'}\n" for i in range(1, 401))
    (tmp_path / "train.csv").write_text("id,age,y\n" + rows)
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    job.run(spark, cfg)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    first = {r["identity_id_hash"]: r["split"] for r in labels.collect()}
    assert len(first) == 400
    held = sum(1 for v in first.values() if v == "evaluation")
    assert 40 <= held <= 120  # holdout_share 0.2 of 400
    job.run(spark, cfg)  # a re-run holds out the same clients
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert {r["identity_id_hash"]: r["split"] for r in labels.collect()} == first


def _table_and_log_config(tmp, *columns):
    contract = {"products": [{"code": "DEPOSIT"}],
                "sources": {
                    "clients": {"kind": "snapshot", "location": str(tmp / "clients.csv"),
                                "holdout_share": 0,
                                "columns": [{"name": "id", "role": "key"},
                                            {"name": "y", "role": "label",
                                             "product": "DEPOSIT"}, *columns]},
                    "payments": {"kind": "snapshot", "grain": "transactions",
                                 "location": str(tmp / "payments.csv"),
                                 "columns": [{"name": "client", "role": "key"},
                                             {"name": "day", "type": "date", "role": "time"},
                                             {"name": "eur", "type": "double",
                                              "role": "amount"}]}}}
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    return make_config(tmp, f"paths.contract={tmp / 'contract.yaml'}")


def test_a_log_beside_the_client_table_adds_each_clients_summaries(spark, tmp_path):
    (tmp_path / "clients.csv").write_text("id,age,y\n1,30,yes\n2,40,no\n3,50,no\n")
    (tmp_path / "payments.csv").write_text(
        "client,day,eur,age,channel\n1,2024-03-01,10,7,app\n1,2024-03-09,30,9,app\n"
        "2,2024-01-10,5,1,web\n9,2024-03-05,1,1,web\n,2024-03-05,1,1,web\n")
    cfg = _table_and_log_config(tmp_path)
    summary = job.run(spark, cfg)
    assert summary["as_of_dates"] == [dt.date(2024, 3, 10)]  # the day after the latest
    assert (summary["rows_read"], summary["accepted"]) == (3, 3)
    assert (summary["log"]["rows_read"], summary["log"]["accepted"]) == (5, 3)
    assert summary["log"]["quarantined"] == {"UNKNOWN_CLIENT": 1, "MISSING_KEY": 1}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    rows = {r["identity_id_hash"]: r.asDict() for r in features.collect()}
    assert set(rows) == {"1", "2", "3"}
    one, three = rows["1"], rows["3"]
    assert (one["age"], one["transactions"], one["eur_total"], one["recency_days"],
            one["age_2"], one["channel"]) == (30.0, 2.0, 40.0, 1.0, 8.0, "app")
    # no transaction: none counted, nothing known of the rest (imputed by the model)
    assert (three["transactions"], three["active_days"], three["eur_total"]) == (0.0, 0.0, 0.0)
    assert (three["recency_days"], three["eur_average"], three["channel"]) == (None, None, None)
    quarantine = read_table(spark, table_path(cfg.paths.root, "ops", "snapshot_quarantine"))
    assert sorted((r["source"], r["reason"]) for r in quarantine.collect()) == [
        ("payments", "MISSING_KEY"), ("payments", "UNKNOWN_CLIENT")]
    columns = {(r["source"], r["feature"]): r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns[("payments", "age_2")] == "numeric (the client's average)"
    assert columns[("clients", "age")] == "numeric"
    names = delivered_columns(cfg, features).names  # segments read in both sources' own names
    assert (names["age"], names["age_2"], names["eur_total"]) == ("age", "age", "eur total")


@pytest.mark.integration  # two snapshot runs
def test_a_table_dated_by_the_log_beside_it_keeps_one_date_when_the_log_grows(
        spark, tmp_path):
    (tmp_path / "clients.csv").write_text("id,y\n1,yes\n2,no\n")
    (tmp_path / "payments.csv").write_text("client,day,eur\n1,2024-03-01,10\n")
    cfg = _table_and_log_config(tmp_path)
    job.run(spark, cfg)
    with (tmp_path / "payments.csv").open("a") as log_file:
        log_file.write("2,2024-03-20,5\n")
    summary = job.run(spark, cfg)
    assert summary["as_of_dates"] == [dt.date(2024, 3, 21)]
    for name in ("client_features", "labels"):
        table = read_table(spark, table_path(cfg.paths.root, "gold", name))
        assert [r[0] for r in table.select("as_of_date").distinct().collect()] == [
            dt.date(2024, 3, 21)], name


def test_a_log_beside_a_monthly_table_sums_up_only_the_transactions_before_each_month(
        spark, tmp_path):
    (tmp_path / "clients.csv").write_text(
        "id,month,y\n1,2024-02-01,no\n1,2024-03-01,yes\n2,2024-03-01,no\n")
    (tmp_path / "payments.csv").write_text(
        "client,day,eur\n1,2024-01-15,10\n1,2024-02-01,30\n1,2024-02-20,5\n")
    cfg = _table_and_log_config(tmp_path, {"name": "month", "type": "date", "role": "time"})
    summary = job.run(spark, cfg)
    assert summary["as_of_dates"] == [dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {(r["identity_id_hash"], r["as_of_date"]): (r["transactions"], r["eur_total"])
           for r in features.collect()}
    # on 1 February only the January payment is before the as-of date
    assert got == {("1", dt.date(2024, 2, 1)): (1.0, 10.0),
                   ("1", dt.date(2024, 3, 1)): (3.0, 45.0),
                   ("2", dt.date(2024, 3, 1)): (0.0, 0.0)}


def test_labels_computed_from_the_product_taken_and_that_column_left_out(spark, tmp_path):
    # One column names the offer each client took: one label per product, by expression.
    (tmp_path / "train.csv").write_text(
        "id,age,offer,spend\n1,30,Card,120.5\n2,40,deposit,0\n3,50,,0\n4,60,card,9\n")
    contract = {"products": [{"code": "CARD"}, {"code": "DEPOSIT"}],
                "sources": {"calls": {
                    "kind": "snapshot", "location": str(tmp_path / "train.csv"),
                    "holdout_share": 0, "undeclared_columns": "infer",
                    "columns": [
                        {"name": "id", "role": "key"},
                        {"name": "took_card", "role": "label", "product": "CARD",
                         "expression": "lower(offer) = 'card' AND spend > 0"},
                        {"name": "took_deposit", "role": "label", "product": "DEPOSIT",
                         "expression": "coalesce(lower(`offer`) = 'deposit', false)"}]}}}
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(contract))
    cfg = make_config(tmp_path, f"paths.contract={tmp_path / 'contract.yaml'}")
    job.run(spark, cfg)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    got = {(r["identity_id_hash"], r["product_code"]): r["label"] for r in labels.collect()}
    assert got == {("1", "CARD"): 1, ("2", "CARD"): 0, ("3", "CARD"): 0, ("4", "CARD"): 1,
                   ("1", "DEPOSIT"): 0, ("2", "DEPOSIT"): 1, ("3", "DEPOSIT"): 0,
                   ("4", "DEPOSIT"): 0}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert "age" in features.columns
    assert "offer" not in features.columns
    assert "spend" not in features.columns
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["offer"] == "outcome: read by the expression of took_card (not a feature)"
    assert columns["spend"] == "outcome: read by the expression of took_card (not a feature)"


def test_a_declared_split_is_kept_and_nothing_more_is_held_out(spark, tmp_path):
    (tmp_path / "train.csv").write_text(
        "id,part,y\n" + "".join(f"{i},{'test' if i <= 5 else 'train'},{'yes' if i % 2 else 'no'}\n"
                                 for i in range(1, 41)))
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "part", "role": "split"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}])
    job.run(spark, cfg)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    held = sorted(int(r["identity_id_hash"]) for r in labels.where("split = 'evaluation'")
                  .collect())
    assert held == [1, 2, 3, 4, 5]


def test_a_declared_key_keeps_its_leading_zeros(spark, tmp_path):
    # The reader would make 00012 the number 12: the bank's key is the text.
    (tmp_path / "train.csv").write_text("id,branch,age,y\n00012,007,30,yes\n00013,007,40,no\n"
                                        "14,010,50,no\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "branch", "type": "category", "role": "categorical"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  holdout_share=0)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    got = {r["identity_id_hash"]: (r["branch"], r["age"]) for r in features.collect()}
    assert got == {"00012": ("007", 30.0), "00013": ("007", 40.0), "14": ("010", 50.0)}


def test_held_out_file_rows_are_held_out_whatever_their_split_column_says(spark, tmp_path):
    # A split column in the training file (train / validation) and a separate test file
    # without it: the test file's rows must never be trained on.
    (tmp_path / "train.csv").write_text(
        "id,part,y\n" + "".join(f"{i},{'validation' if i <= 4 else 'train'},"
                                 f"{'yes' if i % 2 else 'no'}\n" for i in range(1, 21)))
    (tmp_path / "test.csv").write_text("id,y\n101,yes\n102,no\n")
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "part", "role": "split"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  evaluation_location=str(tmp_path / "test.csv"))
    summary = job.run(spark, cfg)
    assert "_segrec_split" not in summary["ignored"]
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    held = sorted(int(r["identity_id_hash"]) for r in labels.where("split = 'evaluation'")
                  .collect())
    assert held == [1, 2, 3, 4, 101, 102]
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert "_segrec_split" not in features.columns


def _log_config(tmp, columns, **source):
    contract = {"sources": {"log": {"kind": "snapshot", "grain": "transactions",
                                    "location": str(tmp / "log.csv"), "columns": columns,
                                    **source}}}
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    return make_config(tmp, f"paths.contract={tmp / 'contract.yaml'}")


LOG_COLUMNS = [{"name": "client", "role": "key"},
               {"name": "booked", "type": "timestamp", "role": "time"},
               {"name": "amount", "type": "double", "role": "amount",
                "expression": "qty * price"}]


def test_a_transaction_log_becomes_one_row_per_client_and_counts_add_up(spark, tmp_path):
    (tmp_path / "log.csv").write_text(
        "client,booked,qty,price\n"
        "007,30/12/2024 10:00,2,5.0\n007,31/12/2024 18:30,1,1.5\n"
        "8,01/06/2024 09:00,1,100\n,01/06/2024 09:00,1,1\n9,31/02/2024 10:00,1,1\n")
    cfg = _log_config(tmp_path, LOG_COLUMNS, dialect={"timestamp_format": "dd/MM/yyyy HH:mm"})
    summary = job.run(spark, cfg)
    assert summary["rows_read"] == 5
    assert summary["accepted"] == 3  # transactions; the clients are two
    assert summary["quarantined"] == {"MISSING_KEY": 1, "BAD_TIMESTAMP": 1}
    assert summary["as_of_dates"] == [dt.date(2025, 1, 1)]  # the day after the latest
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    rows = {r["identity_id_hash"]: r for r in features.collect()}
    assert set(rows) == {"007", "8"}  # the key keeps its leading zeros
    assert (rows["007"]["transactions"], rows["007"]["amount_total"],
            rows["007"]["recency_days"], rows["007"]["tenure_days"]) == (2.0, 11.5, 1.0, 2.0)
    assert (rows["8"]["amount_average"], rows["8"]["recency_days"]) == (100.0, 214.0)
    columns = {r["feature"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["recency_days"] == "per client: days from the last transaction to the as-of date"
    assert columns["price"] == "numeric (the client's average)"
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert labels.count() == 0


def test_an_expression_spark_cannot_compute_is_one_line_naming_the_column(spark, tmp_path):
    (tmp_path / "log.csv").write_text("client,booked,qty,price\n1,30/12/2024 10:00,2,5.0\n")
    columns = [*LOG_COLUMNS[:2], {**LOG_COLUMNS[2], "expression": "qty * unit_price"}]
    cfg = _log_config(tmp_path, columns)
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    message = str(err.value)
    assert message.startswith("snapshot log: column amount: the expression 'qty * unit_price' "
                              "cannot be computed on ")
    assert "unit_price" in message.split("cannot be computed on ")[1]
    assert "\n" not in message


def test_json_lines_with_nested_objects_and_a_broken_line(spark, tmp_path):
    (tmp_path / "train.json").write_text(
        '{"id": "01", "y": "yes", "profile": {"age": 30, "city": "Porto"}}\n'
        '{"id": "02", "y": "no", "profile": {"age": 41, "city": "Braga"}}\n'
        '{"id": "03", "y": "no", "profile": {"age": 52\n'
        '{"id": "04", "y": "no", "profile": {"age": 23, "city": "Porto"}}\n')
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="json", location=str(tmp_path / "train.json"))
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (4, 3)
    assert summary["quarantined"] == {"MALFORMED_ROW": 1}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert {"profile_age", "profile_city"} <= set(features.columns)
    assert sorted(r["identity_id_hash"] for r in features.collect()) == ["01", "02", "04"]
    quarantine = read_table(spark, table_path(cfg.paths.root, "ops", "snapshot_quarantine"))
    assert quarantine.first()["raw_record"].endswith('\\"age\\": 52"}')  # the line as read


def test_a_json_array_file_is_read_whole(spark, tmp_path):
    (tmp_path / "train.json").write_text(
        '[\n  {"id": 1, "y": true, "age": 30},\n  {"id": 2, "y": false, "age": 40}\n]\n')
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="json", location=str(tmp_path / "train.json"))
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"]) == (2, 2)
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    assert sorted((r["identity_id_hash"], r["label"]) for r in labels.collect()) == [
        ("1", 1), ("2", 0)]


def _log_with_outcome(tmp, days):
    (tmp / "log.csv").write_text(
        "client,booked,qty,price\n"
        "a,2024-01-05,1,1\nb,2024-01-06,1,1\nd,2024-01-20,1,1\nc,2024-02-10,1,1\n"
        "d,2024-02-15,1,1\na,2024-03-20,1,1\nc,2024-03-25,1,1\ne,2024-03-31,1,1\n")
    contract = {"products": [{"code": "AGAIN"}],
                "sources": {"log": {"kind": "snapshot", "grain": "transactions",
                                    "outcome_product": "AGAIN", "outcome_days": days,
                                    "location": str(tmp / "log.csv"),
                                    "columns": LOG_COLUMNS[:2]}}}
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    return make_config(tmp, f"paths.contract={tmp / 'contract.yaml'}",
                       "features.train_snapshots=3")


def test_a_buy_again_outcome_labels_earlier_dates_out_of_time(spark, tmp_path):
    cfg = _log_with_outcome(tmp_path, 30)
    summary = job.run(spark, cfg)
    day = dt.date
    # 2024-04-01 (the day after the last transaction) minus 30, 60, ...: only dates with a
    # transaction before them
    assert summary["as_of_dates"] == [day(2024, 2, 1), day(2024, 3, 2), day(2024, 4, 1)]
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    got = {(r["as_of_date"], r["identity_id_hash"]): (r["label"], r["horizon_days"], r["split"])
           for r in labels.collect()}
    assert got == {(day(2024, 2, 1), "a"): (0, 30, None), (day(2024, 2, 1), "b"): (0, 30, None),
                   (day(2024, 2, 1), "d"): (1, 30, None),  # again on 02-15
                   (day(2024, 3, 2), "a"): (1, 30, None), (day(2024, 3, 2), "b"): (0, 30, None),
                   (day(2024, 3, 2), "c"): (1, 30, None), (day(2024, 3, 2), "d"): (0, 30, None)}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    scored = features.where("as_of_date = '2024-04-01'")
    assert sorted(r["identity_id_hash"] for r in scored.collect()) == ["a", "b", "c", "d", "e"]
    # a feature of a date sums up the transactions before it only
    d_feb = features.where("as_of_date = '2024-02-01' AND identity_id_hash = 'd'").first()
    assert (d_feb["transactions"], d_feb["recency_days"]) == (1.0, 12.0)


def test_a_log_labels_each_product_by_the_kind_of_transaction_that_takes_it_up(
        spark, tmp_path):
    (tmp_path / "log.csv").write_text(
        "client,booked,kind\n"
        "a,2024-01-05,Food\na,2024-02-10, travel \nb,2024-01-06,food\nb,2024-02-03,FOOD\n"
        "c,2024-01-20,Travel\nc,2024-03-31,Food\n")
    contract = {"products": [{"code": "TRAVEL"}, {"code": "FOOD"}],
                "sources": {"log": {"kind": "snapshot", "grain": "transactions",
                                    "location": str(tmp_path / "log.csv"), "outcome_days": 30,
                                    "outcome_column": "kind",
                                    "outcome_values": {"TRAVEL": ["Travel"], "FOOD": ["food"]},
                                    "columns": LOG_COLUMNS[:2]}}}
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(contract))
    cfg = make_config(tmp_path, f"paths.contract={tmp_path / 'contract.yaml'}",
                      "features.train_snapshots=3")
    summary = job.run(spark, cfg)
    day = dt.date
    assert summary["as_of_dates"] == [day(2024, 2, 1), day(2024, 3, 2), day(2024, 4, 1)]
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels"))
    got = {(r["as_of_date"], r["identity_id_hash"], r["product_code"]): r["label"]
           for r in labels.collect()}
    assert got == {
        (day(2024, 2, 1), "a", "TRAVEL"): 1, (day(2024, 2, 1), "a", "FOOD"): 0,
        (day(2024, 2, 1), "b", "TRAVEL"): 0, (day(2024, 2, 1), "b", "FOOD"): 1,
        (day(2024, 2, 1), "c", "TRAVEL"): 0, (day(2024, 2, 1), "c", "FOOD"): 0,
        (day(2024, 3, 2), "a", "TRAVEL"): 0, (day(2024, 3, 2), "a", "FOOD"): 0,
        (day(2024, 3, 2), "b", "TRAVEL"): 0, (day(2024, 3, 2), "b", "FOOD"): 0,
        (day(2024, 3, 2), "c", "TRAVEL"): 0, (day(2024, 3, 2), "c", "FOOD"): 1}
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    feb = {r["identity_id_hash"]: (r["transactions_travel"], r["transactions_food"])
           for r in features.where("as_of_date = '2024-02-01'").collect()}
    assert feb == {"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (1.0, 0.0)}  # before 1 February
    columns = {r["feature"]: (r["column"], r["used_as"]) for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["transactions_travel"] == (
        "kind", "per client: the client's transactions that take TRAVEL up (outcome_values: "
        "travel)")


@pytest.mark.integration  # two snapshot runs
def test_a_log_that_has_grown_replaces_every_date_of_its_shorter_self(spark, tmp_path):
    cfg = _log_with_outcome(tmp_path, 30)
    job.run(spark, cfg)
    with (tmp_path / "log.csv").open("a") as log_file:
        log_file.write("b,2024-04-09,1,1\n")  # the log delivered again, a week longer
    summary = job.run(spark, cfg)
    day = dt.date
    assert summary["as_of_dates"] == [day(2024, 1, 11), day(2024, 2, 10), day(2024, 3, 11),
                                      day(2024, 4, 10)]
    for name in ("client_features", "labels"):
        table = read_table(spark, table_path(cfg.paths.root, "gold", name))
        dates = sorted(r[0] for r in table.select("as_of_date").distinct().collect())
        assert dates == (summary["as_of_dates"] if name == "client_features"
                         else summary["as_of_dates"][:3]), name


def test_a_log_too_short_for_its_outcome_window_is_one_line(spark, tmp_path):
    cfg = _log_with_outcome(tmp_path, 120)
    with pytest.raises(InputDataError) as err:
        job.run(spark, cfg)
    message = str(err.value)
    assert message.startswith("snapshot log: the log runs from 2024-01-05 to 2024-03-31, so no "
                              "client has a transaction before 2023-12-03")
    assert "\n" not in message


def test_an_expression_failing_on_a_row_is_one_line_naming_it(spark, tmp_path):
    (tmp_path / "log.csv").write_text("client,booked,qty,price\n1,2024-12-30,2,n/a\n")
    columns = [*LOG_COLUMNS[:2], {**LOG_COLUMNS[2], "expression": "qty * cast(price as double)"}]
    with pytest.raises(InputDataError) as err:
        job.run(spark, _log_config(tmp_path, columns))
    message = str(err.value)
    assert message.startswith("snapshot log: computing amount = 'qty * cast(price as double)' "
                              "failed on a row: ")
    assert "try_cast" in message
    assert "\n" not in message


def test_an_expression_may_not_replace_a_delivered_column(spark, tmp_path):
    (tmp_path / "log.csv").write_text("client,booked,qty,amount\n1,2024-12-30,2,3\n")
    columns = [*LOG_COLUMNS[:2], {**LOG_COLUMNS[2], "expression": "qty * 2"}]
    with pytest.raises(InputDataError) as err:
        job.run(spark, _log_config(tmp_path, columns))
    assert str(err.value).startswith("snapshot log: column amount: ")
    assert "holds a column of that name" in str(err.value)


def test_a_transaction_dated_in_the_future_is_quarantined_not_the_as_of_date(spark, tmp_path):
    (tmp_path / "log.csv").write_text("client,booked,qty,price,channel\n"
                                      "1,2024-12-30,2,1,\n1,2024-12-31,2,1,\n"
                                      "1,2024-12-29,2,1,web\n2,2104-12-30,1,1,web\n")
    cfg = _log_config(tmp_path, LOG_COLUMNS)
    summary = job.run(spark, cfg)
    assert summary["quarantined"] == {"FUTURE_DATE": 1}
    assert summary["as_of_dates"] == [dt.date(2025, 1, 1)]
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    # two blank channels and one web: the most frequent known value
    assert [(r["identity_id_hash"], r["channel"]) for r in features.collect()] == [("1", "web")]
    columns = {r["feature"]: r["column"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert (columns["recency_days"], columns["amount_total"]) == ("booked", "amount")


def test_a_parquet_date_column_is_days_since_1970_and_named_a_date(spark, tmp_path):
    spark.createDataFrame([(1, dt.date(1970, 1, 11), True), (2, None, False)],
                          "id long, opened date, y boolean").write.parquet(
        str(tmp_path / "train.parquet"))
    cfg = _config(tmp_path, [{"name": "id", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="parquet", location=str(tmp_path / "train.parquet"), holdout_share=0)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    assert sorted((r["identity_id_hash"], r["opened"]) for r in features.collect()) == [
        ("1", 10.0), ("2", None)]
    columns = {r["column"]: r["used_as"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "snapshot_columns")).collect()}
    assert columns["opened"] == "numeric (dates, as days since 1970-01-01)"
    assert delivered_columns(cfg, features).dates == {"opened"}  # segments: later / earlier


def test_a_json_array_after_blank_lines_is_read_whole(spark, tmp_path):
    (tmp_path / "train.json").write_text(
        '\n\n\t[{"id": 1, "y": true, "age": 30},\n {"id": 2, "y": false, "age": 40}]\n')
    cfg = _config(tmp_path, [{"name": "id", "type": "long", "role": "key"},
                             {"name": "y", "role": "label", "product": "DEPOSIT"}],
                  format="json", location=str(tmp_path / "train.json"))
    summary = job.run(spark, cfg)
    assert (summary["rows_read"], summary["accepted"], summary["quarantined"]) == (2, 2, {})


def test_segment_words_use_the_delivered_names_of_a_logs_columns(spark, tmp_path):
    (tmp_path / "log.csv").write_text("client,booked,qty,UNIT_PRICE\n1,2024-12-30,2,1.5\n")
    columns = [*LOG_COLUMNS[:2], {**LOG_COLUMNS[2], "name": "Amount (EUR)",
                                  "expression": "qty * UNIT_PRICE"}]
    cfg = _log_config(tmp_path, columns)
    job.run(spark, cfg)
    features = read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
    names = delivered_columns(cfg, features).names
    assert names["Amount_EUR_total"] == "Amount (EUR) total"
    assert names["Amount_EUR_average"] == "Amount (EUR) average"
    assert names["UNIT_PRICE"] == "unit price"
    assert "recency_days" not in names  # the summaries' own words

"""Segment continuity across refits and gold.segment_migration (segmentation.continuity)."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from segrec_spark.segmentation import model as seg
from segrec_spark.segmentation.continuity import (
    Continuation,
    continued_segments,
    continuity_record,
    segment_migration,
)
from segrec_spark.segmentation.settings import SegmentationSettings

SCHEMA = ("identity_id_hash string, web_events_30d int, app_events_30d int, ib_events_30d int, "
          "interest_mortgage_30d int, interest_savings_30d int")


def _month(spark, inactive: int, app: int, web: int, ib: int = 0):
    rows = ([(f"i{i}", 0, 0, 0, 0, 0) for i in range(inactive)]
            + [(f"a{i}", 0, 50 + i, 0, 20, 0) for i in range(app)]
            + [(f"w{i}", 40 + i, 0, 0, 0, 15) for i in range(web)]
            + [(f"b{i}", 0, 0, 60 + i, 0, 0) for i in range(ib)])
    return spark.createDataFrame(rows, SCHEMA)


def _ids(spark, fitted, features) -> dict[str, int]:
    """segment_id per behaviour group (the client key's first letter); one id per group."""
    rows = seg.assign_segments(fitted.model, features).select("identity_id_hash",
                                                               "segment_id").collect()
    groups: dict[str, set[int]] = {}
    for r in rows:
        groups.setdefault(r["identity_id_hash"][0], set()).add(r["segment_id"])
    assert all(len(ids) == 1 for ids in groups.values()), groups
    return {g: ids.pop() for g, ids in groups.items()}


def test_continued_segments_match_by_overlap_and_give_new_clusters_fresh_ids():
    sizes = {0: 50, 1: 30, 2: 20, 3: 0}
    # cluster 0 is mostly previous segment 2, cluster 1 previous 0; cluster 2 is split evenly
    # between previous 0 and 1 (below the 0.6 share), so it is new; previous 1 is retired.
    overlap = [(0, 2, 45), (0, 0, 5), (1, 0, 30), (2, 0, 10), (2, 1, 10), (3, 1, 0)]
    previous = {0: "A", 1: "B", 2: "C"}
    order, continued = continued_segments(sizes, overlap, previous, min_share=0.6)
    assert order == {0: 2, 1: 0, 2: 3}
    assert continued == {2: Continuation(2, 0.9), 0: Continuation(0, 1.0)}


def test_each_previous_segment_is_continued_once_by_its_largest_overlap():
    # Previous segment 0 split in two: the larger half keeps its id, the other gets a fresh one
    # (above every previous id, even one no new cluster continues).
    order, continued = continued_segments({0: 40, 1: 60}, [(0, 0, 40), (1, 0, 60)],
                                          {0: "A", 4: "E"}, min_share=0.5)
    assert order == {1: 0, 0: 5}
    assert set(continued) == {0}


def test_a_kept_persona_is_matched_before_a_larger_overlap_and_retired_ids_never_return():
    # Previous segment 0 ("inactive (2)") now holds 6 clients still inactive (cluster 0) and 7
    # of a new behaviour (cluster 1) the previous model could only put there.
    order, continued = continued_segments(
        {0: 6, 1: 7}, [(0, 0, 6), (1, 0, 7)], {0: "inactive (2)", 1: "web"}, min_share=0.5,
        names={0: "inactive", 1: "ib-first"}, first_fresh=9)
    assert order == {0: 0, 1: 9}  # ids up to 8 were used by older models
    assert continued == {0: Continuation(0, 1.0)}


def test_continuity_record_names_renames_and_retired_segments():
    record = continuity_record({0: "web-first", 5: "mobile-first"},
                               {0: Continuation(0, 0.8)}, {0: "omnichannel", 3: "branch-only"})
    assert record == [
        {"segment_id": 0, "name": "web-first", "continues": True, "overlap_share": 0.8,
         "previous_name": "omnichannel", "renamed": True},
        {"segment_id": 5, "name": "mobile-first", "continues": False, "overlap_share": None,
         "previous_name": None, "renamed": False},
        {"segment_id": 3, "name": "branch-only", "retired": True},
    ]


@pytest.fixture(scope="module")
def january(spark):
    return seg.fit_segmentation(_month(spark, inactive=6, app=4, web=2),
                                SegmentationSettings(k_min=3, k_max=3, seed=3))


def test_refit_keeps_segment_ids_and_names_when_behaviour_stays(spark, january):
    # February: the same three behaviours, but the web group is now the largest and the
    # inactive one the smallest; ids by size alone would swap them.
    february = _month(spark, inactive=2, app=4, web=7)
    before = _ids(spark, january, february)
    assert before == {"i": 0, "a": 1, "w": 2}

    refit = seg.fit_segmentation(february, SegmentationSettings(k_min=3, k_max=3, seed=11),
                                 previous=january.model)
    assert _ids(spark, refit, february) == before
    assert set(refit.continued) == {0, 1, 2}
    assert refit.names[0] == seg.INACTIVE_NAME == january.names[0]
    assert refit.names[1].startswith("mobile-first")
    assert refit.names[2].startswith("web-first")

    by_size = seg.fit_segmentation(february, SegmentationSettings(k_min=3, k_max=3, seed=11,
                                                                  continuity=False),
                                   previous=january.model)
    assert _ids(spark, by_size, february) == {"w": 0, "a": 1, "i": 2}


@pytest.mark.parametrize("ib", [5, 7])  # 7: more new clients than the inactive ones they join
def test_a_new_behaviour_gets_a_fresh_segment_id(spark, january, ib):
    march = _month(spark, inactive=6, app=4, web=2, ib=ib)
    refit = seg.fit_segmentation(march, SegmentationSettings(k_min=4, k_max=4, seed=3),
                                 previous=january.model)
    assert _ids(spark, refit, march) == {"i": 0, "a": 1, "w": 2, "b": 3}
    assert refit.names[3].startswith("internet-banking-first")
    assert set(refit.continued) == {0, 1, 2}


def test_ids_start_above_every_id_used_before(spark, january):
    # The previous model's columns are gone (a new contract): nothing continues, and the new
    # ids start above both its ids and the highest id any model wrote (first_fresh_id).
    renamed = _month(spark, inactive=6, app=4, web=2).withColumnRenamed("app_events_30d",
                                                                        "app_logins_30d")
    refit = seg.fit_segmentation(renamed, SegmentationSettings(k_min=3, k_max=3, seed=3),
                                 previous=january.model, first_fresh_id=5)
    assert sorted(refit.names) == [5, 6, 7]
    assert refit.continued == {}


MIGRATION_SCHEMA = ("as_of_date date, previous_as_of_date date, from_segment_id int, "
                    "from_segment_name string, to_segment_id int, to_segment_name string, "
                    "movement string, clients long, share_of_from_segment double")


def test_segment_migration_counts_stayed_moved_joined_and_left(spark):
    schema = "identity_id_hash string, segment_id int, segment_name string"
    jan = spark.createDataFrame([("c1", 0, "A"), ("c2", 0, "A"), ("c3", 0, "A"), ("c4", 1, "B"),
                                 ("c5", 1, "B")], schema)
    feb = spark.createDataFrame([("c1", 0, "A"), ("c2", 0, "A"), ("c3", 1, "B"), ("c4", 1, "B"),
                                 ("c6", 2, "C")], schema)
    feb_1, jan_1 = dt.date(2026, 2, 1), dt.date(2026, 1, 1)
    expected = spark.createDataFrame([
        (feb_1, jan_1, 0, "A", 0, "A", "stayed", 2, 2 / 3),
        (feb_1, jan_1, 0, "A", 1, "B", "moved", 1, 1 / 3),
        (feb_1, jan_1, 1, "B", 1, "B", "stayed", 1, 0.5),
        (feb_1, jan_1, 1, "B", None, None, "left", 1, 0.5),
        (feb_1, jan_1, None, None, 2, "C", "joined", 1, None),
    ], MIGRATION_SCHEMA)
    assert_df_equality(segment_migration(jan, feb, feb_1, jan_1), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_first_month_migration_has_every_client_joining(spark):
    schema = "identity_id_hash string, segment_id int, segment_name string"
    feb = spark.createDataFrame([("c1", 0, "A"), ("c2", 0, "A")], schema)
    day = dt.date(2026, 2, 1)
    expected = spark.createDataFrame([(day, None, None, None, 0, "A", "joined", 2, None)],
                                     MIGRATION_SCHEMA)
    assert_df_equality(segment_migration(spark.createDataFrame([], schema), feb, day, None),
                       expected, ignore_row_order=True, ignore_nullable=True)

"""BI views over the gold tables, for the questions marketing asks most (docs/scoring.md).

* ``gold.v_campaign_audience``: the clients to contact for a product at a planned audience size,
  one row per (as_of_date, product_code, audience_share, client): filter on the product, the
  share (a value of ``gold.campaign_plan.audience_share``) or ``best_size`` (the
  profit-maximising audience) and the as-of date;
* ``gold.v_client_offers``: one client's segment, offers (gold.next_best_offer, best first) and
  the reasons behind each, one row per (as_of_date, client, offer); a client with no offer
  (all held, opted out, in the control group) keeps one row with NULL offer columns.

Views are plain Spark SQL over the registered tables: the tables stay ordinary Delta tables that
any Delta reader (``deltalake``, DuckDB) reads without the views. ``CREATE OR REPLACE`` makes
registering them idempotent; a view whose tables are not registered yet is skipped.
"""
from __future__ import annotations

import logging

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

VIEWS: dict[str, tuple[tuple[str, ...], str]] = {
    "v_campaign_audience": (("campaign_plan", "product_rankings"), """
        SELECT p.as_of_date, p.product_code, p.audience_share, p.best_size, r.audience_rank,
               r.identity_id_hash, r.probability, r.propensity_tier, r.segment_name,
               r.recommended_action, r.top_reasons, p.model_version
        FROM gold.campaign_plan p
        JOIN gold.product_rankings r
          ON r.as_of_date = p.as_of_date AND r.product_code = p.product_code
         AND r.contact_status = 'contact' AND r.audience_rank <= p.clients"""),
    "v_client_offers": (("client_segments", "next_best_offer", "product_rankings"), """
        SELECT s.as_of_date, s.identity_id_hash, s.segment_id, s.segment_name, o.offer_rank,
               o.product_code, o.probability, o.propensity_tier, o.recommended_action,
               r.top_reasons
        FROM gold.client_segments s
        LEFT JOIN gold.next_best_offer o
          ON o.as_of_date = s.as_of_date AND o.identity_id_hash = s.identity_id_hash
        LEFT JOIN gold.product_rankings r
          ON r.as_of_date = o.as_of_date AND r.identity_id_hash = o.identity_id_hash
         AND r.product_code = o.product_code"""),
}


def register_views(spark: SparkSession) -> list[str]:
    """Create or replace every view whose gold tables are registered; return their names."""
    created = []
    for name, (tables, sql) in VIEWS.items():
        missing = [t for t in tables if not spark.catalog.tableExists(f"gold.{t}")]
        if missing:
            log.info("catalog: view gold.%s skipped (gold.%s not registered)", name,
                     ", gold.".join(missing))
            continue
        spark.sql(f"CREATE OR REPLACE VIEW gold.{name} AS {sql}")
        created.append(f"gold.{name}")
    return created

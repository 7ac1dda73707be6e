"""Time small Delta writes and reads: 15 x (append 1,000 rows, then count the table).

    .venv/bin/python bench/delta_small_ops.py             # the project's Spark settings
    .venv/bin/python bench/delta_small_ops.py --snapshot-partitions 50   # Delta's own default

One fresh driver per invocation (local[2], 2 shuffle partitions); prints the seconds.
The figures are in docs/performance.md ("Delta snapshot partitions").
"""
from __future__ import annotations

import argparse
import tempfile
import time

from segrec_spark.config import SparkSettings
from segrec_spark.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot-partitions", type=int, default=None,
                        help="spark.databricks.delta.snapshotPartitions (default: the project's)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    conf = {"spark.default.parallelism": "2"}
    if args.snapshot_partitions is not None:
        conf["spark.databricks.delta.snapshotPartitions"] = str(args.snapshot_partitions)
    spark = get_spark(SparkSettings(master="local[2]", shuffle_partitions=2, driver_memory="1g",
                                    ui_enabled=False, log_level="ERROR", conf=conf))
    path = tempfile.mkdtemp(prefix="delta_small_ops_")
    began = time.monotonic()
    for i in range(args.rounds):
        (spark.range(1000).selectExpr("id", f"{i} as k").write.format("delta")
         .mode("append" if i else "overwrite").save(path))
        spark.read.format("delta").load(path).count()
    print(f"snapshotPartitions={spark.conf.get('spark.databricks.delta.snapshotPartitions')} "
          f"rounds={args.rounds} seconds={time.monotonic() - began:.1f}")
    spark.stop()


if __name__ == "__main__":
    main()

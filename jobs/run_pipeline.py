"""spark-submit entry point: `segrec run`.

Submit with ./spark-submit.sh jobs/run_pipeline.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))

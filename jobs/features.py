"""spark-submit entry point: `segrec features`.

Submit with ./spark-submit.sh jobs/features.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["features", *sys.argv[1:]]))

"""spark-submit entry point: `segrec ingest`.

Submit with ./spark-submit.sh jobs/ingest.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))

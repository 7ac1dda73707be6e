"""spark-submit entry point: `segrec score`.

Submit with ./spark-submit.sh jobs/score.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))

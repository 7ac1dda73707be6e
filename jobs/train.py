"""spark-submit entry point: `segrec train`.

Submit with ./spark-submit.sh jobs/train.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))

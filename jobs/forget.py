"""spark-submit entry point: `segrec forget`.

Submit with ./spark-submit.sh jobs/forget.py --key KEY [--keys-file FILE] [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["forget", *sys.argv[1:]]))

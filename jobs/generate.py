"""spark-submit entry point: `segrec generate`.

Submit with ./spark-submit.sh jobs/generate.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))

"""spark-submit entry point: `segrec serve-sql`.

Submit with ./spark-submit.sh jobs/serve_sql.py [args].
"""
import sys

from segrec_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve-sql", *sys.argv[1:]]))

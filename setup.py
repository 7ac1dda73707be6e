"""Install the segrec_spark package and its `segrec` console command.

The pyspark / delta-spark pair is pinned together: delta-spark 4.4.x accepts pyspark <= 4.2.0
and its Maven artifact for Spark 4.2 (`io.delta:delta-spark_4.2_2.13`) is published for 4.4.0.
"""
from setuptools import find_packages, setup

PYSPARK = "pyspark==4.2.0"
DELTA = "delta-spark==4.4.0"

setup(
    name="segrec_spark",
    version="0.1.0",
    description="Segmentation and recommendation engine for retail banks on PySpark + Delta Lake",
    python_requires=">=3.10",
    packages=find_packages(include=["segrec_spark", "segrec_spark.*"]),
    package_data={"segrec_spark": ["py.typed"]},
    install_requires=[
        PYSPARK,
        DELTA,
        "mlflow==3.17.2",
        "pyyaml>=6.0",
        "pandas>=2.0,<3",  # pyspark does not support pandas 3 yet
        "pyarrow>=15",
        "numpy>=1.26",
        "matplotlib>=3.8",
        "openpyxl>=3.1",  # a bank's own snapshot delivered as an Excel workbook (xlsx)
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "chispa==0.12.0",
            "deltalake==1.6.6",
            "duckdb==1.4.4",  # bench: the single-machine yardstick of the features stage
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "pyhive==0.7.0",
            "thrift>=0.20",
            "selenium>=4.20",  # the report's headless-browser test (Debian chromium-driver)
            "ruff>=0.6",
            "mypy>=1.10",
        ],
    },
    entry_points={"console_scripts": ["segrec=segrec_spark.cli:main"]},
)

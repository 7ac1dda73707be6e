"""segrec_spark: segmentation and recommendation engine for retail banks (PySpark + Delta)."""

__version__ = "0.1.0"

"""Propensity: one RandomForest pipeline per product, tuned and tracked in MLflow."""

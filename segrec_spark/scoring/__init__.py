"""Scoring and publishing: rankings, next-best offers, segments and metrics for BI."""

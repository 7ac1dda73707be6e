"""Segmentation: K-Means behavioural segments with persona names."""

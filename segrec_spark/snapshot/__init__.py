"""Snapshot: a bank's own one-row-per-client table instead of raw extracts (skips ingest and
features)."""

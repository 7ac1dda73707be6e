"""Forget: erase a client from every layer, keep a tombstone (docs/forget.md)."""

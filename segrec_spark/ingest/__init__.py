"""Ingest: landing files to typed bronze Delta tables, with quarantine and audit."""

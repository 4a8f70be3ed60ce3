"""Exporters: tasks out of (and into) codekiln.

- `datasets`: JSONL, Hugging Face parquet, SWE-bench rows (both ways), dedup.
- `harbor` / `harbor_payload`: Harbor task folders, each with its verifier (`grading.verifier`).
"""

"""Exporters: tasks out of (and into) codekiln.

- `datasets`: JSONL, Hugging Face parquet, SWE-bench rows (both ways), dedup.
- `swebench`: rows swebench 5's harness runs, beside a git repository of the tasks' buggy commits.
- `harbor` / `harbor_payload`: Harbor task folders, each with its verifier (`grading.verifier`).
"""

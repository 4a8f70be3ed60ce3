"""Agentic Verifier (issue #21)."""

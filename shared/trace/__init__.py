"""Traceability (溯源): an append-only, hash-chained and signed record of each batch."""

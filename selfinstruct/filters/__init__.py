"""Instruction filters: rule filters (rules.py) and the ROUGE-L near-duplicate filter (rouge.py)."""

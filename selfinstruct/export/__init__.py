"""Turn cleaned instruction data into fine-tuning files (the finetune stage's building blocks).

records: read instances.jsonl and flatten tasks into examples; cleaning: the paper's instance
rules; encoding: prompt templates for prompt_completion.jsonl; formats: one writer per file
format; build: instantiate ``export.formats``; files: atomic whole-file writes.
"""

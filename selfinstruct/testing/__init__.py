"""Test support for selfinstruct: a loopback OpenAI-compatible LLM server.

`llm_server` serves deterministic, Self-Instruct-shaped replies (with realistic
defects and faults) on 127.0.0.1 so the pipeline can be exercised end to end
without a real model; `synthetic` is the instruction grammar behind it.
"""

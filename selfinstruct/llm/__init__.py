"""The one LLM client every stage uses (LiteLLM underneath, imported only when a run starts)."""

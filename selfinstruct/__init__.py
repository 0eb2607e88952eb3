"""selfinstruct: the Self-Instruct method as a Hydra-configured, resumable pipeline."""

__version__ = "0.1.0"

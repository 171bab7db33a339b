"""The engine: the day loop and the trade window, pure and deterministic."""

"""Reusable widgets of the main window (no audio, model or file logic)."""

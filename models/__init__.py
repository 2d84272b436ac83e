"""Voices and the networks behind them: built-in DSP voices, RVC, LLVC, content and pitch encoders."""

"""RVC voices: the community synthesizer (v1/v2, f0/no-f0, 32k/40k/48k) and its safe loader."""

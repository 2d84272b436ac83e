"""Signal processing shared by the engine (``audio/``), the voices (``models/``) and training.

Arrays in, arrays out (numpy/scipy, and RNNoise's C library through ctypes): no torch, no devices,
no Qt, and no imports from the other Voxshift packages, so every one of them may import it.

* ``dsp.resample``: :class:`StreamResampler` (realtime) and :class:`ChunkResampler` (offline).
* ``dsp.sola``: SOLA offset search + crossfade between overlapping chunks; fade curves.
* ``dsp.yin``: YIN pitch estimation (built-in voices' pitch marks, the "dsp" pitch tracker).
* ``dsp.gate``: a noise gate with hysteresis and hold; ``dsp.rnnoise``: RNNoise noise suppression.
"""

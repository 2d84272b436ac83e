"""The realtime audio engine (no Qt): devices, rings, the PortAudio stream, the worker, SOLA."""

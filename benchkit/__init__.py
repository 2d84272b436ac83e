"""Measuring tools that both the tests and ``bench/`` use (part of the project, not of the app).

* ``benchkit.jackbench``: a JACK server with the dummy driver, a harness client that plays and
  records through it, and the sample-exact lag and glitch measures (``benchkit.jackchild`` is
  the client's child process).
* ``benchkit.stallprobe``: the host-stall probe (a realtime thread per CPU, ``stallprobe.c``).
* ``benchkit.signals``: test signals (buzzy harmonic tones, source-filter vowels).
* ``benchkit.pitch_accuracy``: pitch-shift accuracy of a voice, measured with librosa.

The app never imports this package; it may import the product packages (``audio``, ``models``,
``dsp``), and the tests and benchmarks import it instead of each other.
"""

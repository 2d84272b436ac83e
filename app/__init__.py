"""The Voxshift desktop app and command line."""

"""Typed errors with messages a user can act on."""


class VoxshiftError(Exception):
    """Base class: every message is one plain sentence a user can act on."""


class ModelFormatError(VoxshiftError):
    """A model file is broken, of another kind, unsafe, or does not fit the network."""


class VoiceNotFoundError(VoxshiftError):
    """No voice with that name or path."""

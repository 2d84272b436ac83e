"""The main window's behaviour, one controller per concern; ``AppController`` builds and wires them."""

from app.controllers.app import AppController

__all__ = ["AppController"]

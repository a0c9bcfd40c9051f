"""A local ViewComfy-compatible API server and its engines."""

from .app import create_app
from .background import BackgroundServer, start_background_server
from .config import ServerConfig
from .engine import BuiltinEngine

__all__ = [
    "BackgroundServer",
    "BuiltinEngine",
    "ServerConfig",
    "create_app",
    "start_background_server",
]

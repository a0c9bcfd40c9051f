"""A local ViewComfy-compatible API server and its engines.

The rest of the app reaches the server only through these names.
"""

from .app import create_app
from .background import BackgroundServer, start_background_server
from .cli import add_serve_command, make_engine, port_number
from .config import ServerConfig
from .engine import BuiltinEngine

__all__ = [
    "BackgroundServer",
    "BuiltinEngine",
    "ServerConfig",
    "add_serve_command",
    "create_app",
    "make_engine",
    "port_number",
    "start_background_server",
]

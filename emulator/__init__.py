"""The embedded AWS emulator: a moto server on loopback, for tests and `make demo`."""

from .server import MotoServer, start_moto_server

__all__ = ["MotoServer", "start_moto_server"]

"""The embedded AWS emulator: a moto server on loopback, for tests and `make demo`."""

from .server import MotoServer, start_moto_server

__all__ = ["MotoServer", "start_moto_server"]

# The SAM application deployed to the emulator (emulator/stack.py).
from .stack import StackError, StackInfo, TemplateSettings, deploy_stack, load_stack, read_settings

__all__ += ["StackError", "StackInfo", "TemplateSettings", "deploy_stack", "load_stack", "read_settings"]

"""``smtp-auth-guard`` (or ``python -m shared``): manage desired state and run checks
from a workstation. One module per command group; ``app`` assembles them.

Exit codes (design contract): 0 compliant / done, 1 drift found, 2 could not check
or bad input.
"""

from shared.shell.cli.app import build_parser, main

__all__ = ["build_parser", "main"]

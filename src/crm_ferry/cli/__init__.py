"""The command line: click wiring only.

:mod:`~crm_ferry.cli.main` declares the commands (each parses its flags, calls one
:mod:`crm_ferry.commands` verb and renders its result), :mod:`~crm_ferry.cli.options` the
options and the error boundary they share, :mod:`~crm_ferry.cli.render` the tables and
progress bars. Only this package imports click and rich.
"""

from crm_ferry.cli.main import cli, main

__all__ = ["cli", "main"]

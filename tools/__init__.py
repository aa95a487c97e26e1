"""The gateway's tools: what developers and CI run, never the server.

Each module is one tool with its own Typer command group, reached through the one command
line, ``python -m gateway <command>`` (``gateway/cli.py`` imports a tool only when its
command is invoked): ``schema`` (``schema_check``), ``contracts`` (``pact_verifier``),
``evaluate`` (``evaluate``) and ``experiments`` (``experiments_report``).
"""

"""The command layer: one module per ``s1`` subcommand, each exposing ``register(app)``.

Commands parse options, call the library, and report; they hold no pipeline logic.
"""

"""Sub-commands of the `cocosnet` CLI, one module each (see cocosnet.cli.COMMANDS)."""

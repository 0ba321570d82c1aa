"""cli.py: every command's --help names each option's default."""

import re

import pytest

from cocosnet.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_the_default_of_every_option(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    options = text[text.index("options:"):]
    # each option entry starts on its own line with two spaces and a dash; its help runs to the next entry
    entries = re.split(r"\n  (?=-)", options)[1:]
    assert entries, text
    for entry in entries:
        if entry.startswith("-h, --help"):
            continue
        assert "default:" in " ".join(entry.split()), f"{command}: no default shown for {entry.split()[0]}"

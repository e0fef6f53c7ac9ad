"""Every command the CLI's table names is a click command that answers --help (the table imports lazily, so
nothing else would notice a name that points at a function or at nothing until a user typed it)."""

import click
import pytest
from click.testing import CliRunner

from app.cli import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_of_the_table_answers_help(name):
    with click.Context(cli) as ctx:
        assert isinstance(cli.get_command(ctx, name), click.Command)
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {name}")


def test_the_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert all(f"  {name}" in result.output for name in COMMANDS)

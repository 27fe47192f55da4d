"""Move @champion back to the previous champion, or to `--version N` (`make rollback`).

The previous champion is the version the promotion gate compared the current champion with
when it made it @champion (its tags `validation.status` and `validation.baseline_version`),
so each rollback goes one champion further back. The version put back is loaded first as a
server following @champion would load it (its signature checked before anything of it runs,
then one trip predicted): one that fails is refused in one line and @champion stays. Both
versions get tags saying who moved the alias, when and why (`--reason`), and a server
following @champion (`make serve-model`) picks it up.

The rollback holds @champion there: the next register_model.py (`make q6`) registers its new
version as @challenger, saying so, unless `--promote always` (docs/model.md).
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import click

from homework.options import connection_options, model_name_option
from homework.reporting import reporting
from homework.tracking.connection import Connection


@click.command()
@model_name_option("Registered model whose @champion moves back.")
@click.option(
    "--version",
    type=click.IntRange(min=1),
    help="Version to put back (default: the champion the current one replaced).",
)
@click.option("--reason", required=True, help="Why @champion moves back (recorded on both).")
@connection_options
def run_rollback(model_name: str, version: int | None, reason: str, connection: Connection) -> None:
    """Move @champion back to the previous champion, once it loads as a server would load it."""
    from homework.publish.rollback import apply, plan, refused
    from homework.serving.loader import REFUSED, load_version

    with reporting(connection):
        connection.connect()
        done = plan(model_name, None if version is None else str(version), reason)
        try:
            load_version(f"models:/{model_name}/{done.to_version}")
        except REFUSED as error:
            raise refused(done, error) from None
        apply(done)
    click.echo(
        f"Moved @champion of {model_name} back from version {done.from_version} to version "
        f"{done.to_version} ({done.by}, {done.at}: {done.reason}); it stays there until "
        "register_model.py --promote always.",
        err=True,
    )
    click.echo(f"@champion: version {done.to_version}")


if __name__ == "__main__":
    run_rollback()

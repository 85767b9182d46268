"""The `yunying` command line. One module per command group; each parses, calls an engine, prints."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="yunying",
    help="运营 Yunying — 院科两级运营管理数据决策支持平台 (hospital operations & quality platform).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"yunying {version('yunying')}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="显示版本并退出 / show the version and exit")) -> None:
    """运营 Yunying — 院科两级运营管理数据决策支持平台 (hospital operations & quality platform)."""


# command groups (each module defines `app` or functions registered here)
from yunying.cli import warehouse_cmds  # noqa: E402

warehouse_cmds.register(app)

from yunying.cli import demo as demo_cli  # noqa: E402

app.add_typer(demo_cli.app, name="demo")

from yunying.cli import drg as drg_cli  # noqa: E402

app.add_typer(drg_cli.app, name="drg")
from yunying.cli import drg_economics  # noqa: E402,F401  (registers drg weights/pay/metrics)
from yunying.cli import qc as qc_cli  # noqa: E402
app.add_typer(qc_cli.app, name="qc")

from yunying.cli import web as web_cli  # noqa: E402

web_cli.register(app)

from yunying.cli import indicators as indicators_cli  # noqa: E402
app.add_typer(indicators_cli.app, name="indicators")

from yunying.cli import report as report_cli  # noqa: E402
app.add_typer(report_cli.app, name="report")

from yunying.cli import cost as cost_cli  # noqa: E402
app.add_typer(cost_cli.app, name="cost")

if __name__ == "__main__":  # pragma: no cover
    app()

"""``ecocloud up``: the platform on one machine until Ctrl-C (``make up`` runs it)."""

from __future__ import annotations

from typing import Annotated

import typer

from ecocloud.settings import get_settings
from ecocloud.terminal import cli_console


def up(
    simulate: Annotated[
        bool, typer.Option("--simulate", help="also run the upstream simulator and its HJ 212 data loggers")
    ] = False,
    port_airflow: Annotated[int, typer.Option(help="Airflow UI and REST API port")] = 8080,
    port_web: Annotated[int, typer.Option(help="web app port")] = 8000,
    receiver_port: Annotated[
        int | None, typer.Option(help="HJ 212 receiver TCP port (default: ECOCLOUD_HJ212_PORT, 9212)")
    ] = None,
    simulator_port: Annotated[
        int | None,
        typer.Option(help="simulator HTTP port, with --simulate (default: ECOCLOUD_SIMULATOR_PORT, 8765)"),
    ] = None,
) -> None:
    """Start the platform on this machine: Airflow (scheduler, DAG processor, triggerer, API server and
    UI) on our DAGs, each unpaused once (an operator's pause since is kept); the HJ 212 receiver; the
    web app — and with --simulate the simulated upstreams. Prints every address and the logins; Ctrl-C
    stops everything."""
    from ecocloud.up import UpConfig, run_up

    settings = get_settings()  # as `ecocloud receive` and `ecocloud simulate` take their ports
    config = UpConfig(
        airflow_port=port_airflow,
        web_port=port_web,
        receiver_port=settings.hj212_port if receiver_port is None else receiver_port,
        simulate=simulate,
        simulator_port=settings.simulator_port if simulator_port is None else simulator_port,
    )
    raise typer.Exit(run_up(settings, config, cli_console(soft_wrap=True)))  # logins on one line

"""``berth``: the command-line entry point.

Service commands (``master``, ``agent``, ``up``) start long-running processes. Every flag
can also come from an environment variable named ``BERTH_<FLAG>``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from berth.cli.client import register as register_client_commands
from berth.cli.client.context import RootGroup
from berth.cli.up import up
from berth.core.attributes import parse_attributes
from berth.core.errors import InvalidInput
from berth.core.resources import Resources
from berth.core.runtime import data_home, run_service, setup_logging

app = typer.Typer(
    # Usage errors (unknown command, bad flag) end with one line and exit code 2.
    cls=RootGroup,
    name="berth",
    help="Berth: a small datacenter operating system.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _default_hostname() -> str:
    return socket.gethostname()


@app.command()
def master(
    port: Annotated[int, typer.Option(envvar="BERTH_MASTER_PORT", help="Port to serve on.")] = 5050,
    host: Annotated[
        str, typer.Option(envvar="BERTH_MASTER_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    data_dir: Annotated[
        Path | None, typer.Option(envvar="BERTH_DATA_DIR", help="Where the registry is kept.")
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(envvar="BERTH_HOSTNAME", help="Hostname to advertise.")
    ] = None,
    advertise_ip: Annotated[
        str | None, typer.Option("--ip", envvar="BERTH_IP", help="IP address to advertise.")
    ] = None,
    agent_ping_timeout: Annotated[
        float, typer.Option(help="Seconds between pings to agents; a missed pong drops them.")
    ] = 15.0,
    max_agent_ping_timeouts: Annotated[
        int,
        typer.Option(help="An agent gone for this many ping timeouts becomes unreachable."),
    ] = 5,
    heartbeat_interval: Annotated[
        float, typer.Option(help="Seconds between HEARTBEAT events to frameworks.")
    ] = 15.0,
    weights: Annotated[
        str,
        typer.Option(envvar="BERTH_WEIGHTS", help="DRF role weights: 'eng=2,ops=0.5'."),
    ] = "",
    cluster: Annotated[
        str,
        typer.Option(envvar="BERTH_CLUSTER", help="The cluster's name, shown by tools and UIs."),
    ] = "berth",
    log_level: Annotated[str | None, typer.Option(envvar="BERTH_LOG_LEVEL")] = None,
) -> None:
    """Run a Mesos-compatible master."""
    from berth.master.master import parse_weights
    from berth.master.service import MasterOptions, run_master

    try:
        role_weights = parse_weights(weights)
    except InvalidInput as e:
        raise typer.BadParameter(str(e)) from None
    setup_logging(log_level)
    ip = advertise_ip or (host if host not in ("0.0.0.0", "::") else "127.0.0.1")
    options = MasterOptions(
        host=host,
        port=port,
        data_dir=(data_dir or data_home() / "master").resolve(),
        hostname=hostname or (ip if ip.startswith("127.") else _default_hostname()),
        advertise_ip=ip,
        agent_ping_timeout=agent_ping_timeout,
        max_agent_ping_timeouts=max_agent_ping_timeouts,
        heartbeat_interval=heartbeat_interval,
        weights=role_weights,
        cluster=cluster,
    )
    run_service(run_master(options))


@app.command()
def agent(
    master_address: Annotated[
        str, typer.Option("--master", envvar="BERTH_MASTER", help="The master, as host:port.")
    ] = "127.0.0.1:5050",
    port: Annotated[int, typer.Option(envvar="BERTH_AGENT_PORT", help="Port to serve on.")] = 5051,
    host: Annotated[
        str, typer.Option(envvar="BERTH_AGENT_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    work_dir: Annotated[
        Path | None,
        typer.Option(envvar="BERTH_WORK_DIR", help="Sandboxes and checkpoints live here."),
    ] = None,
    resources: Annotated[
        str | None,
        typer.Option(
            envvar="BERTH_RESOURCES",
            help="Override detected resources: 'cpus:4;mem:2048;ports:[31000-32000]'.",
        ),
    ] = None,
    attributes: Annotated[
        str | None,
        typer.Option(envvar="BERTH_ATTRIBUTES", help="Attributes: 'rack:r1;zone:a'."),
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(envvar="BERTH_HOSTNAME", help="Hostname to advertise.")
    ] = None,
    advertise_ip: Annotated[
        str | None, typer.Option("--ip", envvar="BERTH_IP", help="IP address to advertise.")
    ] = None,
    containerizers: Annotated[
        str, typer.Option(envvar="BERTH_CONTAINERIZERS", help="Comma-separated: docker,process.")
    ] = "docker,process",
    heartbeat: Annotated[float, typer.Option(help="Seconds between pings to the master.")] = 15.0,
    status_update_backoff: Annotated[
        float, typer.Option(help="First resend delay of an unacknowledged status update.")
    ] = 10.0,
    kill_tasks_on_exit: Annotated[
        bool,
        typer.Option(
            "--kill-tasks-on-exit",
            envvar="BERTH_KILL_TASKS_ON_EXIT",
            help="On SIGTERM, kill every task (reporting TASK_KILLED) and exit once their "
            "processes and containers are gone. Without it, tasks outlive a stopped agent, "
            "which finds them again when it restarts.",
        ),
    ] = False,
    log_level: Annotated[str | None, typer.Option(envvar="BERTH_LOG_LEVEL")] = None,
) -> None:
    """Run an agent that runs tasks on this machine."""
    from berth.agent.service import AgentOptions, run_agent

    setup_logging(log_level)
    ip = advertise_ip or (host if host not in ("0.0.0.0", "::") else "127.0.0.1")
    try:
        Resources.parse_text(resources or "")
        parse_attributes(attributes or "")
    except InvalidInput as e:
        raise typer.BadParameter(str(e)) from None
    names = tuple(n.strip() for n in containerizers.split(",") if n.strip())
    unknown = set(names) - {"docker", "process"}
    if unknown:
        raise typer.BadParameter(f"unknown containerizer(s): {', '.join(sorted(unknown))}")
    options = AgentOptions(
        master=master_address,
        host=host,
        port=port,
        work_dir=work_dir or data_home() / f"agent-{port}",
        hostname=hostname or (ip if ip.startswith("127.") else _default_hostname()),
        advertise_ip=ip,
        resources=resources,
        attributes=attributes,
        containerizers=names,
        heartbeat=heartbeat,
        status_update_backoff=status_update_backoff,
        kill_tasks_on_exit=kill_tasks_on_exit,
    )
    run_service(run_agent(options))


@app.command()
def marathon(
    master_address: Annotated[
        str, typer.Option("--master", envvar="BERTH_MASTER", help="The master, as host:port.")
    ] = "127.0.0.1:5050",
    port: Annotated[
        int, typer.Option(envvar="BERTH_MARATHON_PORT", help="Port to serve on.")
    ] = 8080,
    host: Annotated[
        str, typer.Option(envvar="BERTH_MARATHON_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    data_dir: Annotated[
        Path | None, typer.Option(envvar="BERTH_DATA_DIR", help="Where apps and state are kept.")
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(envvar="BERTH_HOSTNAME", help="Hostname to advertise.")
    ] = None,
    reconcile_interval: Annotated[
        float, typer.Option(help="Seconds between reconciliations with the master.")
    ] = 60.0,
    log_level: Annotated[str | None, typer.Option(envvar="BERTH_LOG_LEVEL")] = None,
) -> None:
    """Run the Marathon-compatible orchestrator (a framework on the master)."""
    from berth.marathon.service import MarathonOptions, run_marathon

    setup_logging(log_level)
    advertised = hostname or (host if host not in ("0.0.0.0", "::") else "127.0.0.1")
    options = MarathonOptions(
        master=master_address,
        host=host,
        port=port,
        data_dir=(data_dir or data_home() / "marathon").resolve(),
        hostname=advertised,
        reconcile_interval=reconcile_interval,
    )
    run_service(run_marathon(options))


@app.command()
def gateway(
    port: Annotated[
        int, typer.Option(envvar="BERTH_GATEWAY_PORT", help="Port to serve on.")
    ] = 8000,
    host: Annotated[
        str, typer.Option(envvar="BERTH_GATEWAY_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    master_address: Annotated[
        str, typer.Option("--master", envvar="BERTH_MASTER", help="The master, as host:port.")
    ] = "127.0.0.1:5050",
    marathon_address: Annotated[
        str,
        typer.Option("--marathon", envvar="BERTH_MARATHON", help="Marathon, as host:port."),
    ] = "127.0.0.1:8080",
    data_dir: Annotated[
        Path | None,
        typer.Option(envvar="BERTH_DATA_DIR", help="Where the cluster id is kept."),
    ] = None,
    log_level: Annotated[str | None, typer.Option(envvar="BERTH_LOG_LEVEL")] = None,
) -> None:
    """Run the gateway: the cluster's single entry point (web UI, /marathon, /mesos, agents)."""
    from berth.gateway.service import GatewayOptions, run_gateway

    setup_logging(log_level)
    options = GatewayOptions(
        host=host,
        port=port,
        master=master_address,
        marathon=marathon_address,
        data_dir=(data_dir or data_home() / "gateway").resolve(),
    )
    run_service(run_gateway(options))


app.command()(up)
register_client_commands(app)


def main() -> None:
    app()

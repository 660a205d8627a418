"""The shell every client command runs in: which cluster, how errors end, one-line usage.

- The connection options ``--url``, ``--marathon-url`` and ``--master-url`` are taken by
  every command group (`group_options`) *and* by each of its commands (`client_command`
  adds them), so both ``berth app --url U list`` and ``berth app list --url U`` work; the
  command's own wins.
- `cluster` resolves them (flags, environment, saved config, default: see ``config``).
- `client_command` turns every failure into ``error: <one line>`` and its exit code;
  `RootGroup` does the same for usage errors (unknown command, bad flag), which typer
  otherwise shows as a usage block and a boxed message.

Only typer's public API is used: typer 0.2x vendors its own click, so click's classes
cannot be mixed in.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, ParamSpec, TypeVar, get_type_hints

import typer
from typer.core import TyperGroup

from berth.cli.client.config import Endpoints, config_path, load, resolve
from berth.cli.client.errors import ClientError, ExitCode
from berth.cli.client.http import Http, Query, Reply, build_url

P = ParamSpec("P")
R = TypeVar("R")

_META = "berth.client."
_PANEL = "Cluster"
_KEYS = ("url", "marathon_url", "master_url")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        rich_help_panel=_PANEL,
        show_default=False,
        help="The cluster's gateway. Default: $BERTH_URL, else the URL saved by "
        "`berth cluster setup`, else http://127.0.0.1:8000.",
    ),
]
MarathonUrlOption = Annotated[
    str | None,
    typer.Option(
        "--marathon-url",
        metavar="URL",
        rich_help_panel=_PANEL,
        show_default=False,
        help="Talk to marathon here instead of through the gateway (env BERTH_MARATHON_URL).",
    ),
]
MasterUrlOption = Annotated[
    str | None,
    typer.Option(
        "--master-url",
        metavar="URL",
        rich_help_panel=_PANEL,
        show_default=False,
        help="Talk to the master (and agents) directly (env BERTH_MASTER_URL).",
    ),
]

# The connection options of the command running now (set by `client_command`).
_options: ContextVar[Mapping[str, str] | None] = ContextVar("berth_client_options", default=None)


def group_options(
    ctx: typer.Context,
    url: UrlOption = None,
    marathon_url: MarathonUrlOption = None,
    master_url: MasterUrlOption = None,
) -> None:
    for key, value in zip(_KEYS, (url, marathon_url, master_url), strict=True):
        if value is not None:
            ctx.meta[_META + key] = value


def _usage_line(e: typer.TyperException) -> str:
    ctx = getattr(e, "ctx", None)
    message = e.format_message().strip().rstrip(".")
    path = getattr(ctx, "command_path", None)
    if path:
        return f"error: {message}. See `{path} --help`."
    return f"error: {message}."


class RootGroup(TyperGroup):
    """The ``berth`` group: usage errors end with one line and exit code 2."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except typer.TyperException as e:
            if type(e).__name__ == "NoArgsIsHelpError":
                # ``berth app`` alone: the help was the answer (already printed by rich).
                sys.exit(getattr(e, "exit_code", ExitCode.USAGE))
            print(_usage_line(e), file=sys.stderr)
            sys.exit(getattr(e, "exit_code", ExitCode.USAGE))
        except typer.Abort:
            print("aborted", file=sys.stderr)
            sys.exit(ExitCode.FAILED)
        sys.exit(result if isinstance(result, int) else 0)


def fail(error: ClientError) -> None:
    """Print ``error`` (one line, details indented below) and exit with its code."""
    for line in error.lines():
        print(line, file=sys.stderr)
    sys.stderr.flush()
    raise SystemExit(int(error.exit_code))


def _run(fn: Callable[..., R], args: Any, kwargs: Any) -> R:
    try:
        return fn(*args, **kwargs)
    except ClientError as e:
        fail(e)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # ``berth task log | head``: the reader left; stop quietly.
        sys.stderr.close()
        raise SystemExit(0) from None
    except (typer.Exit, typer.Abort, typer.TyperException, SystemExit):
        raise
    except Exception as e:
        if os.environ.get("BERTH_DEBUG"):
            raise
        print(
            f"error: unexpected {type(e).__name__}: {e} "
            "(set BERTH_DEBUG=1 to see where; please report it)",
            file=sys.stderr,
        )
        raise SystemExit(int(ExitCode.FAILED)) from None
    raise AssertionError("unreachable")  # fail() always exits


_EXTRA = {
    "berth_ctx": typer.Context,
    "berth_url": UrlOption,
    "berth_marathon_url": MarathonUrlOption,
    "berth_master_url": MasterUrlOption,
}


def client_command(fn: Callable[P, R]) -> Callable[P, R]:
    """Give a command the connection options and run it so that it ends with a message
    and an exit code, never a traceback (``BERTH_DEBUG=1`` shows an unexpected one's)."""
    hints = get_type_hints(fn, include_extras=True)
    signature = inspect.signature(fn)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    for name, annotation in _EXTRA.items():
        default = inspect.Parameter.empty if name == "berth_ctx" else None
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        ctx: typer.Context | None = kwargs.pop("berth_ctx", None)
        chosen = {k: ctx.meta[_META + k] for k in _KEYS if ctx and _META + k in ctx.meta}
        for key in _KEYS:
            value = kwargs.pop("berth_" + key, None)
            if value is not None:
                chosen[key] = value
        token = _options.set(chosen)
        try:
            return _run(fn, args, kwargs)
        finally:
            _options.reset(token)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )
    wrapper.__annotations__ = {**hints, **_EXTRA}
    del wrapper.__wrapped__  # typer must see the wrapper's signature, not fn's
    return wrapper


@dataclass(frozen=True, slots=True)
class Cluster:
    """One cluster's endpoints and the HTTP client to reach them."""

    endpoints: Endpoints
    http: Http

    def marathon_reply(
        self, method: str, path: str, body: Any = None, *, query: Query | None = None
    ) -> Reply:
        return self.http.request(method, build_url(self.endpoints.marathon, path, query), body)

    def marathon(
        self, method: str, path: str, body: Any = None, *, query: Query | None = None
    ) -> Any:
        return self.marathon_reply(method, path, body, query=query).json()

    def queue_items(self) -> dict[str, Any]:
        """``GET /v2/queue`` (with the offers marathon turned down) by app id; empty when
        it cannot be read (it only explains, it never decides)."""
        url = build_url(self.endpoints.marathon, "/v2/queue", {"embed": "lastUnusedOffers"})
        reply = self.http.request("GET", url, check=False)
        if reply.status >= 400:
            return {}
        data = reply.json()
        items = data.get("queue", []) if isinstance(data, dict) else []
        return {
            str(item["app"]["id"]): item
            for item in items
            if isinstance(item, dict) and isinstance(item.get("app"), dict)
        }

    def app_or_none(self, app_id: str) -> dict[str, Any] | None:
        """``GET /v2/apps/<id>``'s app, or None when there is no such app."""
        url = build_url(self.endpoints.marathon, f"/v2/apps{app_id}")
        reply = self.http.request("GET", url, check=False)
        if reply.status == 404:
            return None
        if reply.status >= 400:
            self.http.request("GET", url)  # raises the server's message
        data = reply.json()
        app = data.get("app") if isinstance(data, dict) else None
        return app if isinstance(app, dict) else None

    def master(self, path: str, *, query: Query | None = None) -> Any:
        return self.http.json("GET", build_url(self.endpoints.master, path, query))

    def agent_url(self, agent_id: str) -> str:
        """The base URL of agent ``agent_id`` (the master knows its address)."""
        pid: str | None = None
        if self.endpoints.direct_agents:
            data = self.master("/master/slaves", query={"slave_id": agent_id})
            for agent in data.get("slaves", []) if isinstance(data, dict) else []:
                if isinstance(agent, dict) and agent.get("id") == agent_id:
                    pid = str(agent.get("pid", ""))
            if pid is None:
                raise ClientError(f"agent {agent_id} is not registered with the master")
        return self.endpoints.agent(agent_id, pid)


def cluster(env: Mapping[str, str] | None = None) -> Cluster:
    """The cluster the current command talks to."""
    env = os.environ if env is None else env
    chosen = _options.get() or {}
    path = config_path(env)
    endpoints = resolve(
        url=chosen.get("url"),
        marathon_url=chosen.get("marathon_url"),
        master_url=chosen.get("master_url"),
        env=env,
        saved=load(path),
        saved_from=str(path),
    )
    return Cluster(endpoints, Http())

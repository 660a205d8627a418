"""Header rewriting for a reverse proxy hop: pure functions over raw header lists.

A proxy must not forward the headers that describe one connection rather than the
message (RFC 9110 §7.6.1: ``Connection`` and every header it names, ``Keep-Alive``,
``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``); the server and
client libraries on each side frame the message themselves. Upstreams are told who
really asked through ``X-Forwarded-For``/``-Host``/``-Proto``/``-Prefix``. ``Date`` and
``Server`` of the upstream are dropped, as nginx does, because the gateway's server adds
its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from berth.gateway.routes import rewrite_location

RawHeaders = Iterable[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# Request headers the gateway sets itself (or the client library does: Host follows the
# upstream's address, and the body has already been read from the client, so a 100
# Continue is not the upstream's business).
_REQUEST_OWN = frozenset(
    {"host", "expect", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-prefix"}
)
_RESPONSE_OWN = frozenset({"date", "server"})


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def _decoded(raw: RawHeaders) -> list[tuple[str, str]]:
    return [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in raw]


def request_headers(
    raw: RawHeaders, *, client: str | None, scheme: str, prefix: str
) -> list[tuple[str, str]]:
    """The headers to send upstream for a client request with headers ``raw``.

    >>> request_headers(
    ...     [(b"Host", b"gw:8000"), (b"Connection", b"close, X-Drop"), (b"X-Drop", b"1"),
    ...      (b"Accept", b"*/*"), (b"X-Forwarded-For", b"10.0.0.9")],
    ...     client="10.0.0.2", scheme="http", prefix="/marathon")
    ... # doctest: +NORMALIZE_WHITESPACE
    [('accept', '*/*'), ('x-forwarded-for', '10.0.0.9, 10.0.0.2'),
     ('x-forwarded-host', 'gw:8000'), ('x-forwarded-proto', 'http'),
     ('x-forwarded-prefix', '/marathon')]
    """
    headers = _decoded(raw)
    dropped = HOP_BY_HOP | _REQUEST_OWN | _connection_tokens(headers)
    out: list[tuple[str, str]] = []
    host = ""
    forwarded_for: list[str] = []
    for name, value in headers:
        if name == "host":
            host = value
        elif name == "x-forwarded-for":
            forwarded_for.append(value)
        elif name not in dropped:
            out.append((name, value))
    if client:
        forwarded_for.append(client)
    if forwarded_for:
        out.append(("x-forwarded-for", ", ".join(forwarded_for)))
    if host:
        out.append(("x-forwarded-host", host))
    out.append(("x-forwarded-proto", scheme))
    out.append(("x-forwarded-prefix", prefix))
    return out


def response_headers(raw: RawHeaders, *, upstream: str, prefix: str) -> list[tuple[bytes, bytes]]:
    """The headers to send the client for an upstream response with headers ``raw``;
    redirects to the upstream itself are kept under the gateway's ``prefix``.

    >>> response_headers(
    ...     [(b"Transfer-Encoding", b"chunked"), (b"Date", b"x"), (b"Content-Type", b"a/b"),
    ...      (b"Location", b"http://127.0.0.1:8080/v2/apps/a")],
    ...     upstream="127.0.0.1:8080", prefix="/marathon")
    [(b'content-type', b'a/b'), (b'location', b'/marathon/v2/apps/a')]
    """
    headers = _decoded(raw)
    dropped = HOP_BY_HOP | _RESPONSE_OWN | _connection_tokens(headers)
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in dropped:
            continue
        if name == "location":
            value = rewrite_location(value, upstream, prefix)
        out.append((name.encode("latin-1"), value.encode("latin-1")))
    return out

"""`fashion-edge serve`: check the configuration, listen, then load and self-check in the background.

Order matters. Mistakes on the command line (bundle, format, backend, key file) fail before anything
listens, as one line. The server then starts at once, so /healthz can answer 503 while the
interpreters load and run the golden self-check; if that fails the service stays up but never turns
healthy, and says why on /healthz, /v1/info and in the log.

SIGHUP (systemd's reload) loads the bundle path again and swaps the new model in between requests
(runtime/service/reload.py). From the moment `run_serve` starts until the server listens, and while
it stops, SIGHUP is logged and ignored rather than ending the process; the first load, which starts
once the server listens, resolves the bundle path itself.

SIGTERM (systemd's stop) lets uvicorn stop accepting, finish every request in flight, then the
workers stop and the process exits 0. (uvicorn re-raises the signal it caught once it has shut down;
a no-op handler installed beforehand absorbs that, so a clean drain is exit 0, not "killed".)
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fashion_edge.runtime.backends import choose_backend
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.service.config import ServeConfig

if TYPE_CHECKING:
    from fashion_edge.runtime.service.pool import InferencePool
    from fashion_edge.runtime.service.reload import Reloader

log = logging.getLogger("fashion_edge.serve")
GRACEFUL_SHUTDOWN_S = 30    # in-flight requests get this long to finish after SIGTERM


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s fashion-edge serve %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


@dataclass(frozen=True)
class Service:
    """Everything `serve` runs but the listening socket."""

    asgi: Any
    pool: "InferencePool"
    reloader: "Reloader"
    web_root: Path | None


def build(config: ServeConfig) -> Service:
    """The service for `config`, not yet loading. Raises typed errors for bad config."""
    require("fastapi", "serve", "fashion-edge serve")
    require("uvicorn", "serve", "fashion-edge serve")
    require("prometheus_client", "serve", "fashion-edge serve")
    from fashion_edge.runtime.service.app import create_app
    from fashion_edge.runtime.service.classify import ClassifyLane
    from fashion_edge.runtime.service.files import find_web_root, web_files
    from fashion_edge.runtime.service.guards import ApiKeyGuard, BodyLimitGuard
    from fashion_edge.runtime.service.metrics import Metrics, RequestCounter
    from fashion_edge.runtime.service.pool import InferencePool
    from fashion_edge.runtime.service.reload import Reloader

    bundle = Bundle.load(config.bundle)
    bundle.entry(config.format)                           # a format the bundle lacks: BundleError now
    backend = choose_backend(config.format, config.backend)   # a backend not installed: MissingExtraError now
    metrics = Metrics()

    def on_model(model) -> None:   # a model starts serving: the metrics' info series and the app's schema follow it
        metrics.serving(model, config.format)
        app.state.on_model(model)  # `app` is made below, before any model can load (pool.start comes later)

    pool = InferencePool(config.bundle, config.format, backend, config.workers, config.queue, metrics.observe_worker,
                         on_model=on_model)
    metrics.track(lambda: pool.waiting, lambda: pool.admitted, lambda: 1.0 if pool.ready else 0.0)
    reloader = Reloader(pool, lambda result: metrics.reloads.labels(result).inc())
    root = find_web_root(config.web_root)
    try:
        web = web_files(root)
    except ValueError as exc:
        from fashion_edge.runtime.errors import UsageError

        raise UsageError(str(exc)) from None
    app = create_app(config, bundle, pool, reloader, metrics, dict(web))
    asgi = BodyLimitGuard(ClassifyLane(app, app.state.classify_route), config.max_body_bytes)
    if config.api_key:
        asgi = ApiKeyGuard(asgi, config.api_key)
    return Service(RequestCounter(asgi, metrics), pool, reloader, root)


def exposure_warning(config: ServeConfig) -> str | None:
    """What the log says when the service is reachable from other machines (an explicit --host choice)."""
    if config.loopback:
        return None
    return (f"--host {config.host} binds beyond loopback: other machines can reach this service"
            + ("" if config.api_key else " and, without --api-key-file, use it without a key"))


def _ignore_sighup(*_) -> None:
    log.warning("SIGHUP before the server listens (or while it stops): ignored; the first load reads the bundle "
                "path as it is then")


def serve(config: ServeConfig) -> int:
    previous_hup = signal.signal(signal.SIGHUP, _ignore_sighup)   # first: its default action ends the process
    _configure_logging()
    from fashion_edge.runtime.service.allocator import keep_freed_buffers

    tuned = keep_freed_buffers()   # before anything is loaded: see allocator.py
    service = build(config)
    asgi, pool, web_root = service.asgi, service.pool, service.web_root
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.should_exit:
                return
            for server in self.servers:
                for sock in server.sockets:
                    host, port = sock.getsockname()[:2]
                    log.info("listening on http://%s:%d (%s)", host, port,
                             "loopback only" if config.loopback else "REACHABLE FROM THE NETWORK")
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, service.reloader.on_signal)
            # after the socket is up: /healthz answers 503 until this is done
            pool.start(ended=lambda: loop.call_soon_threadsafe(service.reloader.load_ended))

        async def shutdown(self, sockets=None) -> None:
            service.reloader.stop()     # no reload starts while requests drain
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            signal.signal(signal.SIGHUP, _ignore_sighup)
            await super().shutdown(sockets)

    log.info("bundle %s: %s, %s requested; %d worker(s), queue %d, body limit %.1f MB, web app %s, API key %s, "
             "malloc %s", config.bundle, config.format, config.backend or "best installed backend", config.workers,
             config.queue, config.max_body_bytes / 1024 / 1024, web_root or "not installed",
             "required" if config.api_key else "off", "tuned" if tuned else "default")
    if exposure_warning(config):
        log.warning(exposure_warning(config))
    # proxy_headers off: the client's address is the TCP peer's (the reload endpoint's loopback rule relies on it;
    # it refuses requests a proxy forwarded), and X-Forwarded-* parsing would be per-request waste.
    uconfig = uvicorn.Config(asgi, host=config.host, port=config.port, log_config=None, access_log=False,
                             timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, lifespan="off", server_header=False,
                             proxy_headers=False)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        Server(uconfig).run()
    except SystemExit as exc:   # uvicorn's start-up failure (port in use, ...) after logging one line
        if exc.code not in (0, None):
            return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, _ignore_sighup)   # the loop's handler is gone with the loop
        pool.close()
        signal.signal(signal.SIGHUP, previous_hup)
    log.info("stopped")
    return 0


def run_serve(args) -> int:
    """The CLI's entry: argv -> ServeConfig -> serve."""
    signal.signal(signal.SIGHUP, _ignore_sighup)   # as early as this process can: see the module's docstring
    return serve(ServeConfig.from_args(args))

"""Prometheus metrics (prometheus-client): requests, latency histograms, queue depth, model info.

The request counter is fed by an outer ASGI middleware, so it also counts what the guards refuse
(401, 413) and what no route matched; routes are labelled by their template (`/bundle/{name:path}`),
never by the raw path, so a scanner cannot blow up the number of series.
"""
from __future__ import annotations

from typing import Callable

from starlette.routing import Route

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info,
                               disable_created_metrics, generate_latest)

# Batch-of-one on a Pi: preprocessing a photo takes milliseconds, inference tens of microseconds to
# milliseconds; buckets from 50 us to 2.5 s cover both ends.
BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()   # `*_created` series double the output and help no dashboard
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fashion_edge_requests", "HTTP requests by route template, method and status",
                                ["route", "method", "status"], registry=r)
        self.preprocess = Histogram("fashion_edge_preprocess_seconds", "Decoding and fashion-mnist-v1 preprocessing",
                                    buckets=BUCKETS, registry=r)
        self.inference = Histogram("fashion_edge_inference_seconds", "Batch-of-one inference on an interpreter",
                                   buckets=BUCKETS, registry=r)
        self.total = Histogram("fashion_edge_classify_seconds",
                               "Classify requests from body received to response (queue wait included)",
                               buckets=BUCKETS, registry=r)
        self.queue_depth = Gauge("fashion_edge_queue_depth", "Classify requests waiting for a worker", registry=r)
        self.in_flight = Gauge("fashion_edge_in_flight", "Classify requests admitted (waiting or running)", registry=r)
        self.ready = Gauge("fashion_edge_ready", "1 once the interpreters are loaded and self-checked", registry=r)
        self.model = Info("fashion_edge_model", "The model being served (its bundle id and version change on reload)",
                          registry=r)
        self.reloads = Counter("fashion_edge_reloads", "Model reloads (SIGHUP, POST /v1/admin/reload) by result: "
                               "ok, failed (the bundle was refused; the previous one serves on), busy (one was running)",
                               ["result"], registry=r)
        for result in ("ok", "failed", "busy"):   # every series from the start: a dashboard's rate() needs the zero
            self.reloads.labels(result)

    def serving(self, model, format: str) -> None:
        """The fashion_edge_model info series, for the model that serves from now on."""
        m = model.bundle.manifest
        self.model.info({"model": m.model, "format": format, "backend": model.backend_name,
                         "preprocessing": m.input.preprocessing.id, "bundle_id": model.id,
                         "bundle_version": model.version or ""})

    def observe_worker(self, preprocess_s: float, inference_s: float) -> None:
        """Called from worker threads (prometheus-client's metrics are thread-safe), after the answer is
        on its way: a client may see its response a moment before these histograms count it."""
        self.preprocess.observe(preprocess_s)
        self.inference.observe(inference_s)

    def track(self, waiting: Callable[[], float], admitted: Callable[[], float], ready: Callable[[], float]) -> None:
        """Gauges read at scrape time from the pool, so they can never drift from it."""
        self.queue_depth.set_function(waiting)
        self.in_flight.set_function(admitted)
        self.ready.set_function(ready)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class TemplateRoute(Route):
    """A plain Starlette route that records itself in the scope, as FastAPI does for its own routes,
    so RequestCounter can label it by template."""

    async def handle(self, scope, receive, send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


class RequestCounter:
    """Outermost ASGI middleware: counts every response by route template, method and status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500  # if the application dies before answering, that is what the client sees

        async def watched_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(template, method, str(status)).inc()

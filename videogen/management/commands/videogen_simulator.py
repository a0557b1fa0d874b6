"""Run the local OpenRouter video API simulator in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from videogen.simulator import SimulatorConfig, SimulatorServer
from videogen.simulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET


def _default_webhook_secret() -> str:
    secrets = [s.strip() for s in os.environ.get("VIDEOGEN_WEBHOOK_SECRETS", "").split(",")]
    return next((s for s in secrets if s), DEFAULT_WEBHOOK_SECRET)


class Command(BaseCommand):
    help = (
        "Serve a local OpenRouter video API (/api/v1/videos...) with signed webhooks. "
        "Markers, fault injection and the control API are documented in videogen.simulator."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = SimulatorConfig()
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--api-key",
            default=None,
            help="Bearer key to accept (default: $VIDEOGEN_SIMULATOR_API_KEY or sk-or-simulator).",
        )
        parser.add_argument(
            "--webhook-secret",
            default=None,
            help="Secret that signs webhooks (default: first of $VIDEOGEN_WEBHOOK_SECRETS).",
        )
        parser.add_argument("--pending-seconds", type=float, default=defaults.pending_seconds)
        parser.add_argument("--processing-seconds", type=float, default=defaults.processing_seconds)
        parser.add_argument(
            "--latency", type=float, default=0.0, help="Seconds added to every API call."
        )
        parser.add_argument(
            "--public-url",
            default=None,
            help="Origin put in unsigned_urls when clients reach the simulator by another name.",
        )
        parser.add_argument(
            "--allow-http-callbacks",
            action="store_true",
            help="Accept plain-HTTP callback_url for any host (e.g. docker-compose services).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = SimulatorConfig(
            host=options["host"],
            port=options["port"],
            api_key=options["api_key"]
            or os.environ.get("VIDEOGEN_SIMULATOR_API_KEY")
            or DEFAULT_API_KEY,
            webhook_secret=options["webhook_secret"] or _default_webhook_secret(),
            pending_seconds=options["pending_seconds"],
            processing_seconds=options["processing_seconds"],
            latency_seconds=options["latency"],
            public_url=options["public_url"],
            allow_http_callbacks=options["allow_http_callbacks"],
        )
        server = SimulatorServer(config).start()
        self.stdout.write(
            self.style.SUCCESS(f"videogen simulator serving {server.base_url}")
            + " (Ctrl-C to stop)"
        )
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        try:
            stopped.wait()
        finally:
            server.stop()
            self.stdout.write("videogen simulator stopped")

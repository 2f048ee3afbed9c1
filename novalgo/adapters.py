"""Which broker and which sheet: the real ones when configured, local ones otherwise."""

from __future__ import annotations

from novalgo.broker.base import Broker
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend


def make_broker(settings: Settings) -> Broker:
    if settings.broker_kind == "alpaca":
        from novalgo.broker.alpaca import AlpacaBroker

        return AlpacaBroker.from_settings(settings)
    from novalgo.broker.simulated import SimulatedBroker

    return SimulatedBroker(settings.data_dir)


def make_sheet_backend(settings: Settings) -> SheetBackend:
    if settings.sheet_kind == "google":
        from novalgo.sheet.google import GoogleSheetBackend

        return GoogleSheetBackend.from_settings(settings)
    from novalgo.sheet.local import LocalSheetBackend

    return LocalSheetBackend(settings.data_dir / "sheet", settings.config_tab, settings.performance_tab,
                             settings.activity_tab)

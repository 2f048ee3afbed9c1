"""NovAlgo: TradingView alerts to Alpaca orders, configured from a Google Sheet."""

__version__ = "0.1.0"

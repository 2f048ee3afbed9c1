"""Brokers behind one small Protocol: Alpaca (alpaca-py) and the local simulator."""

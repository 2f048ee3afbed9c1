"""The trader's control panel: the Config, Performance and Activity tabs (Google Sheet or CSV)."""

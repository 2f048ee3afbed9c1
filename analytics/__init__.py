"""NovAlgo analytics: the cron-run reports (metrics, CSV exports, charts, email/SMS/Slack)."""

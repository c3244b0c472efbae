"""Alert ingestion: one parser per payload format, and `alert_ingest` to apply their events."""

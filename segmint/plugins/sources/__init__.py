"""Built-in sources: files (CSV, JSON Lines, Parquet), CRM and survey exports, web analytics, PostgreSQL."""

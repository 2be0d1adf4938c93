"""Read-only queries used by views, exports and services."""

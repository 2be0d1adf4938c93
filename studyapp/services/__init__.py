"""Every write to the database goes through these functions (``<thing>_<verb>``)."""

"""Customer device sessions of the web portal (/app): one row per signed-in browser, 30 days,
revocable by the customer (one device or everywhere) and by staff (issue 18)."""

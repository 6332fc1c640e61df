"""One repository per table; each creates its boto3 client on first use and reuses it."""

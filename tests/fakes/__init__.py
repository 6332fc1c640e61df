"""Fakes of the outside services the API calls, as real local servers (loopback only)."""

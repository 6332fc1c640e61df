"""A Docker-free stand-in for `sam local start-api`, driven by template.yaml."""

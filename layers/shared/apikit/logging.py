"""The one Powertools Logger every function shares (service name and level come from the environment)."""

from aws_lambda_powertools import Logger

logger = Logger()

"""The one Powertools Logger every function shares (service name and level come from the environment)."""

import logging

from aws_lambda_powertools import Logger

logger = Logger()
# At DEBUG botocore logs whole responses, GetSecretValue's included: however low the root logger is set, not that.
logging.getLogger("botocore").setLevel(logging.INFO)

"""The one Powertools Metrics (CloudWatch EMF) every function shares: namespace and service from the environment.

Published by `apikit.app.make_handler` at the end of each invocation, with the cold-start metric; metrics
are log lines (EMF), so emitting one costs no API call.
"""

import os
import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "metrics"]

metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ApiRoutes")
# Most invocations count nothing: that is normal here, not worth a warning in every log stream.
warnings.filterwarnings("ignore", message="No application metrics to publish")

"""The one Powertools Metrics (CloudWatch EMF) every function shares: namespace and service from the environment.

Published by `apikit.app.make_handler` at the end of each invocation, with the cold-start metric; metrics
are log lines (EMF), so emitting one costs no API call.
"""

import os
import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

__all__ = ["MetricUnit", "metrics", "unhandled_error"]

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ApiRoutes"
metrics = Metrics(namespace=NAMESPACE)


def unhandled_error(function_name: str, error_type: str) -> None:
    """One `UnhandledErrors` datapoint with the function as its dimension, printed now (its own EMF line, apart
    from the invocation's other metrics, which keep their dimensions). template.yaml's UnhandledErrorsAlarm sums
    it over every function."""
    with single_metric(name="UnhandledErrors", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="function", value=function_name)
        metric.add_metadata(key="error", value=error_type)


# Most invocations count nothing: that is normal here, not worth a warning in every log stream.
warnings.filterwarnings("ignore", message="No application metrics to publish")

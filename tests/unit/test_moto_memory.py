"""devserver.moto_process.untracked_models: moto's server keeps no reference to the model objects it has dropped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_moto_frees_what_a_transaction_copies_once_untracked():
    # In a child: the patch changes moto's BaseModel for the whole process.
    script = textwrap.dedent(
        """
        import boto3, moto
        from moto.core.common_models import BaseModel
        from moto.dynamodb.models import Table
        from devserver.moto_process import untracked_models

        def transactions():
            with moto.mock_aws():
                client = boto3.client("dynamodb", region_name="us-east-1")
                client.create_table(
                    TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                )
                for n in range(20):  # each one deep-copies the table first (moto's rollback copy)
                    put = {"Put": {"TableName": "t", "Item": {"id": {"S": str(n)}}}}
                    client.transact_write_items(TransactItems=[put])
                return len(Table.instances_tracked)

        print(transactions())
        untracked_models()
        print(transactions())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    tracked_before, tracked_after = (int(line) for line in result.stdout.split())
    assert tracked_before > 20  # moto as it ships: the table and every rollback copy of it, kept forever
    assert tracked_after == 0

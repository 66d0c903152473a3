"""Invoke a cloud function asynchronously: Tencent SCF ``Invoke`` with ``InvocationType=Event``.

The SDK signs the request (TC3-HMAC-SHA256) with the credentials from settings; the endpoint is
a setting too, so tests can point it at a loopback server that checks what the SDK signed.
"""
from __future__ import annotations

import json
from typing import Any

from shared.core.config import ConfigError, Settings
from shared.core.log import get_logger, log_event

logger = get_logger("shop.scf")


def invoke_async(settings: Settings, function_name: str, payload: dict[str, Any]) -> str:
    """Start ``function_name`` with ``payload`` as its event; returns SCF's request id."""
    from tencentcloud.common import credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.scf.v20180416 import models, scf_client
    if not (settings.TENCENTCLOUD_SECRET_ID and settings.TENCENTCLOUD_SECRET_KEY):
        raise ConfigError("SCF fan-out needs TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
    # the loopback endpoint of the tests speaks plain http; the SDK reads the scheme it derives
    # from ``protocol`` in the constructor, so setting ``protocol`` afterwards changes nothing
    loopback = settings.SCF_ENDPOINT.startswith(("127.0.0.1", "localhost"))
    http = HttpProfile(protocol="http" if loopback else "https", endpoint=settings.SCF_ENDPOINT,
                       reqTimeout=10)
    client = scf_client.ScfClient(
        credential.Credential(settings.TENCENTCLOUD_SECRET_ID, settings.TENCENTCLOUD_SECRET_KEY),
        settings.SCF_REGION, ClientProfile(httpProfile=http))
    request = models.InvokeRequest()
    request.FunctionName = function_name
    request.InvocationType = "Event"
    request.Namespace = settings.SCF_NAMESPACE
    request.ClientContext = json.dumps(payload, separators=(",", ":"))
    try:
        response = client.Invoke(request)
    except TencentCloudSDKException as exc:
        log_event(logger, "scf invoke failed", function=function_name, code=exc.get_code())
        raise
    return str(getattr(response, "RequestId", "") or "")

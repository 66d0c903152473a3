"""Tencent Hunyuan's ChatCompletions (tencentcloud-sdk-python-hunyuan), the assistant's
optional LLM: the SDK signs the request (TC3-HMAC-SHA256) with TENCENTCLOUD_SECRET_ID/KEY.

Imported only when HUNYUAN_MODEL is set and an answer is phrased, so no cold start pays for
the SDK. ``ENDPOINT`` is where the SDK sends; tests point it at a loopback double that checks
the request the SDK signed.
"""
from __future__ import annotations

import math
from typing import Any

from shared.core.config import ConfigError, Settings

ENDPOINT = "hunyuan.tencentcloudapi.com"
REGION = "ap-guangzhou"


def chat(settings: Settings, messages: list[dict[str, str]], timeout: float) -> str:
    """The model's reply to ``messages`` ([{role, content}]); raises on any failure."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.hunyuan.v20230901 import hunyuan_client, models
    if not (settings.TENCENTCLOUD_SECRET_ID and settings.TENCENTCLOUD_SECRET_KEY):
        raise ConfigError("Hunyuan needs TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
    loopback = ENDPOINT.startswith(("127.0.0.1", "localhost"))
    http = HttpProfile(protocol="http" if loopback else "https", endpoint=ENDPOINT,
                       reqTimeout=max(1, math.ceil(timeout)))
    client = hunyuan_client.HunyuanClient(
        credential.Credential(settings.TENCENTCLOUD_SECRET_ID, settings.TENCENTCLOUD_SECRET_KEY),
        REGION, ClientProfile(httpProfile=http))
    request = models.ChatCompletionsRequest()
    request.Model = settings.HUNYUAN_MODEL
    request.Stream = False
    request.Temperature = 0.2
    request.Messages = []
    for message in messages:
        item = models.Message()
        item.Role = message["role"]
        item.Content = message["content"]
        request.Messages.append(item)
    response: Any = client.ChatCompletions(request)
    return str(response.Choices[0].Message.Content or "")

"""SCF's cloud API (version 2018-04-16) through tencentcloud-sdk-python, which signs every
request with TC3-HMAC-SHA256. Parameters are the API's own names, passed as JSON."""
from __future__ import annotations

from typing import Any, Callable, Optional

API_VERSION = "2018-04-16"
DEFAULT_ENDPOINT = "scf.tencentcloudapi.com"


class ScfError(RuntimeError):
    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message}")
        self.action, self.code = action, code


class ScfApi:
    """One region's SCF API; ``call`` answers the ``Response`` object of the action."""

    def __init__(self, secret_id: str, secret_key: str, region: str,
                 endpoint: str = DEFAULT_ENDPOINT, timeout: int = 60) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.scf.v20180416 import scf_client
        # loopback endpoints (tests) speak plain http; the SDK fixes the scheme at construction
        loopback = endpoint.startswith(("127.0.0.1", "localhost"))
        http = HttpProfile(protocol="http" if loopback else "https", endpoint=endpoint,
                           reqTimeout=timeout)
        self.region = region
        self._client = scf_client.ScfClient(credential.Credential(secret_id, secret_key), region,
                                            ClientProfile(httpProfile=http))
        self.observer: Optional[Callable[[str, dict[str, Any]], None]] = None

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        if self.observer is not None:
            self.observer(action, params)
        try:
            answer = self._client.call_json(action, params)
        except TencentCloudSDKException as exc:
            raise ScfError(action, str(exc.get_code()), str(exc.get_message())) from None
        return dict(answer.get("Response") or {})

    def pages(self, action: str, params: dict[str, Any], key: str,
              limit: int = 100) -> list[dict[str, Any]]:
        """Every item of a paged List* action."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            answer = self.call(action, {**params, "Offset": offset, "Limit": limit})
            page = list(answer.get(key) or [])
            items += page
            offset += len(page)
            if not page or offset >= int(answer.get("TotalCount") or 0):
                return items

"""Write a hash on Tencent's TBaaS (长安链 ChainMaker): ``InvokeChainMakerContract``.

Only hashes go on chain (Tencent's advice: data stays off chain, its fingerprint on it). The
contract is the shop's own key-value contract: method ``save`` with
``{"key": ..., "value": ...}``. The SDK (tencentcloud-sdk-python-tbaas) signs the request
(TC3-HMAC-SHA256); it is imported here, inside the call, so no cold start pays for it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from shared.core.config import ConfigError, Settings
from shared.core.log import get_logger, log_event

logger = get_logger("shop.tbaas")
CONTRACT_METHOD = "save"


class ChainRefused(Exception):
    """TBaaS (or the contract) did not take the write; the caller tries again later."""


@dataclass(frozen=True)
class ChainReceipt:
    tx_id: str
    request_id: str


def is_configured(settings: Settings) -> bool:
    return bool(settings.TBAAS_CHAIN_ID and settings.TBAAS_CLUSTER_ID)


def put_hash(settings: Settings, key: str, value: str) -> ChainReceipt:
    """Save ``value`` under ``key`` through the contract, synchronously; the transaction id."""
    from tencentcloud.common import credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.tbaas.v20180416 import models, tbaas_client
    if not (settings.TENCENTCLOUD_SECRET_ID and settings.TENCENTCLOUD_SECRET_KEY):
        raise ConfigError("TBaaS anchoring needs TENCENTCLOUD_SECRET_ID and _KEY")
    # a loopback endpoint (the tests' double) speaks plain http; see shared.cloud.scf
    loopback = settings.TBAAS_ENDPOINT.startswith(("127.0.0.1", "localhost"))
    http = HttpProfile(protocol="http" if loopback else "https",
                       endpoint=settings.TBAAS_ENDPOINT, reqTimeout=10)
    client = tbaas_client.TbaasClient(
        credential.Credential(settings.TENCENTCLOUD_SECRET_ID, settings.TENCENTCLOUD_SECRET_KEY),
        settings.TBAAS_REGION, ClientProfile(httpProfile=http))
    request = models.InvokeChainMakerContractRequest()
    request.ClusterId = settings.TBAAS_CLUSTER_ID
    request.ChainId = settings.TBAAS_CHAIN_ID
    request.ContractName = settings.TBAAS_CONTRACT_NAME
    request.FuncName = CONTRACT_METHOD
    # the contract's parameters: a JSON map of strings to strings
    request.FuncParam = json.dumps({"key": key, "value": value}, separators=(",", ":"))
    request.AsyncFlag = 0
    try:
        response = client.InvokeChainMakerContract(request)
    except TencentCloudSDKException as exc:
        log_event(logger, "tbaas invoke failed", code=exc.get_code())
        raise ChainRefused(str(exc.get_code() or "TencentCloudSDKException")) from None
    result = response.Result
    # Code 0 is success; anything else is the contract or the chain refusing the transaction
    if result is None or result.Code != 0 or not result.TxId:
        code = None if result is None else result.Code
        log_event(logger, "tbaas transaction refused", code=code,
                  message=None if result is None else result.CodeMessage)
        raise ChainRefused(f"transaction refused ({code})")
    return ChainReceipt(str(result.TxId), str(response.RequestId or ""))

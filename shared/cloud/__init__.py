"""Adapters for Tencent Cloud: SCF async invoke (fan-out of big jobs)."""

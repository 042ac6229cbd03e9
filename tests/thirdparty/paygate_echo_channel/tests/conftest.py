"""The echo channel's own tests load the gateway's channel conformance suite by its plugin name."""

pytest_plugins = ["paygate_conformance"]

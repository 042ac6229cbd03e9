"""Third-party channel packages used by the gateway's tests. Their own test folders run in a
pytest of their own (see tests/integration/test_thirdparty_channel.py), not in this session."""

collect_ignore = ["paygate_echo_channel/tests"]

"""The address policy: what a stranger's URL may make the bot connect to."""

import pytest

from checks.policy import AddressPolicy

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.5.5.5", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),
    ("169.254.10.10", "link-local"),
    ("169.254.169.254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
]


@pytest.mark.parametrize(("address", "label"), REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str, label: str) -> None:
    reason = AddressPolicy().refusal(address)
    assert reason is not None
    assert label in reason
    assert "CHECK502_ALLOW_NETWORKS" in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "172.32.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


def test_operators_open_networks_explicitly() -> None:
    policy = AddressPolicy.from_setting("10.0.0.0/8, 127.0.0.1")
    assert policy.refusal("10.9.9.9") is None
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("::ffff:10.0.0.1") is None
    assert policy.refusal("127.0.0.2") is not None
    assert policy.refusal("192.168.0.1") is not None


def test_star_allows_everything_and_bad_networks_are_reported() -> None:
    assert AddressPolicy.from_setting("*").refusal("169.254.169.254") is None
    with pytest.raises(ValueError, match="not a network"):
        AddressPolicy.from_setting("10.0.0.0/33")


@pytest.mark.parametrize(
    "name", ["metadata.google.internal", "METADATA.google.internal.", "metadata"]
)
def test_metadata_names_are_refused_before_lookup(name: str) -> None:
    assert AddressPolicy().refuse_name(name) is not None
    assert AddressPolicy().refuse_name("shop.example.com") is None

"""The address policy: what a stranger's URL may make the bot connect to."""

import ipaddress

import pytest

from checks.policy import AddressPolicy, embedded_ipv4

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


# Each IANA special-purpose block (first and last address) with the class the user is told.
SPECIAL_BLOCKS = [
    ("0.0.0.1", "this network"),
    ("0.255.255.255", "this network"),
    ("10.255.255.255", "private"),
    ("100.127.255.255", "shared"),
    ("127.255.255.255", "loopback"),
    ("169.254.255.255", "link-local"),
    ("172.16.0.0", "private"),
    ("192.0.0.0", "IETF protocol assignment"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("192.0.0.170", "IETF protocol assignment"),
    ("192.0.0.255", "IETF protocol assignment"),
    ("192.0.0.192", "metadata"),
    ("fd20:ce::254", "metadata"),
    ("192.0.2.0", "documentation"),
    ("192.0.2.255", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.255.255", "private"),
    ("198.18.0.0", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.255", "documentation"),
    ("239.255.255.255", "multicast"),
    ("240.0.0.0", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::ffff:808:808", "IPv4-mapped"),
    ("::ffff:0:808:808", "SIIT"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("64:ff9b:1:ffff:ffff:ffff:808:808", "local-use NAT64"),
    ("100::", "discard-only"),
    ("100::ffff:ffff:ffff:ffff", "discard-only"),
    ("100:0:0:1::1", "dummy"),
    ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignment"),
    ("2001:1::4", "IETF protocol assignment"),
    ("2001:2::", "benchmarking"),
    ("2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking"),
    ("2001:10::1", "IETF protocol assignment"),  # ORCHID, deprecated
    ("2001:db8::", "documentation"),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
    ("3fff::", "documentation"),
    ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
    ("5f00::1", "segment-routing"),
    ("fc00::", "unique-local"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"),
    ("fec0::1", "site-local"),
    ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local"),
    ("ff0e::1", "multicast"),
    ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved IPv6"),
    ("4000::1", "reserved IPv6"),
    ("200::1", "reserved IPv6"),  # the deprecated OSI NSAP block
    ("5f01::", "reserved IPv6"),
    ("c000::1", "reserved IPv6"),
    ("fe00::1", "reserved IPv6"),
    ("4000::", "reserved IPv6"),  # just past 2000::/3
]


@pytest.mark.parametrize(("address", "label"), SPECIAL_BLOCKS)
def test_every_special_purpose_block_is_refused_and_named(address: str, label: str) -> None:
    reason = AddressPolicy().refusal(address)
    assert reason is not None, address
    assert reason.startswith(f"{address} is ")
    assert label in reason, reason


# Just outside the blocks above, and the registries' globally reachable rows inside wider ones.
GLOBAL = [
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "191.255.255.255",
    "192.0.0.9",  # Port Control Protocol anycast
    "192.0.0.10",  # TURN anycast
    "192.0.1.0",
    "192.0.3.0",
    "192.31.196.1",  # AS112
    "192.52.193.1",  # AMT
    "192.88.98.255",
    "192.88.100.0",
    "192.167.255.255",
    "192.169.0.0",
    "192.175.48.1",  # AS112 direct delegation
    "198.17.255.255",
    "198.20.0.0",
    "198.51.99.255",
    "198.51.101.0",
    "203.0.112.255",
    "203.0.114.0",
    "223.255.255.255",
    "2000::",
    "2001:200::",  # just past 2001::/23
    "2001:1::1",
    "2001:1::2",
    "2001:1::3",
    "2001:3::1",
    "2001:4:112::1",
    "2001:20::1",
    "2001:3f::1",
    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
    "2001:db9::",
    "2620:4f:8000::1",
    "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "3fff:1000::",
    "64:ff9b::808:808",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
    "2001:0:808:808:0:0:f7f7:f7f7",  # Teredo: server 8.8.8.8, client 8.8.8.8
]


@pytest.mark.parametrize("address", GLOBAL)
def test_globally_reachable_neighbours_and_exceptions_pass(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


# Each IPv6 form that embeds or translates to an IPv4 address, judged on that address.
EMBEDDED = [
    ("::ffff:7f00:1", "IPv4-mapped form of 127.0.0.1, a loopback"),
    ("::7f00:1", "IPv4-compatible form of 127.0.0.1, a loopback"),
    ("::a9fe:a9fe", "IPv4-compatible form of 169.254.169.254, a cloud metadata"),
    ("::a00:1", "IPv4-compatible form of 10.0.0.1, a private"),
    ("::2", "IPv4-compatible form of 0.0.0.2"),
    ("::ffff:0:7f00:1", "SIIT) form of 127.0.0.1, a loopback"),
    ("::ffff:0:a9fe:a9fe", "SIIT) form of 169.254.169.254, a cloud metadata"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1, a loopback"),
    ("64:ff9b::c0a8:1", "NAT64 form of 192.168.0.1, a private"),
    ("64:ff9b:1::a9fe:a9fe", "NAT64 form of 169.254.169.254, a cloud metadata"),
    ("2002:7f00:1::", "6to4 address of 127.0.0.1, a loopback"),
    ("2002:a9fe:a9fe:1::1", "6to4 address of 169.254.169.254, a cloud metadata"),
    ("2001:0:7f00:1:0:0:f7f7:f7f7", "Teredo address whose server is 127.0.0.1, a loopback"),
    # Teredo's client address is stored inverted: 80ff:fffe is ~127.0.0.1.
    ("2001:0:808:808:0:0:80ff:fffe", "Teredo address whose client is 127.0.0.1, a loopback"),
    ("2001:0:808:808:0:0:5601:5601", "Teredo address whose client is 169.254.169.254"),
    ("2001::", "Teredo address whose server is 0.0.0.0, an unspecified"),
]


@pytest.mark.parametrize(("address", "reason"), EMBEDDED)
def test_ipv6_forms_are_judged_on_the_ipv4_inside(address: str, reason: str) -> None:
    refusal = AddressPolicy().refusal(address)
    assert refusal is not None, address
    assert f"{address} is " in refusal and reason in refusal, refusal
    assert "CHECK502_ALLOW_NETWORKS" in refusal


@pytest.mark.parametrize(
    ("address", "ipv4"),
    [
        ("::ffff:5db8:d822", "93.184.216.34"),
        ("::5db8:d822", "93.184.216.34"),
        ("::ffff:0:5db8:d822", "93.184.216.34"),
    ],
)
def test_translation_forms_of_public_addresses_point_at_the_address_itself(
    address: str, ipv4: str
) -> None:
    refusal = AddressPolicy().refusal(address)
    assert refusal is not None
    assert refusal.endswith(f"check {ipv4} itself")


def test_an_allowed_ipv4_network_allows_the_forms_that_embed_it() -> None:
    policy = AddressPolicy.allowing("10.0.0.0/8")
    for address in ("::ffff:a00:1", "::a00:1", "::ffff:0:a00:1", "64:ff9b::a00:1", "2002:a00:1::"):
        assert policy.refusal(address) is None, address
    assert policy.refusal("::ffff:b00:1") is not None  # 11.0.0.1: mapped, not allowed itself


def test_an_allowed_ipv6_network_allows_embedded_forms_only_if_the_ipv4_is_allowed() -> None:
    policy = AddressPolicy.allowing("2002::/16", "::ffff:0:0/96", "64:ff9b:1::/48", "::/96")
    assert policy.refusal("::ffff:808:808") is None
    assert policy.refusal("64:ff9b:1::808:808") is None
    assert policy.refusal("::808:808") is None
    for address in ("2002:7f00:1::", "::ffff:7f00:1", "64:ff9b:1::7f00:1", "::7f00:1"):
        refusal = policy.refusal(address)
        assert refusal is not None and "127.0.0.1, a loopback" in refusal, address


def test_allowing_one_loopback_address_allows_no_other() -> None:
    policy = AddressPolicy.allowing("127.0.0.2/32")
    assert policy.refusal("127.0.0.2") is None
    assert policy.refusal("::ffff:7f00:2") is None
    for address in ("127.0.0.1", "::1", "::ffff:7f00:1", "::7f00:1", "2002:7f00:1::"):
        assert policy.refusal(address) is not None, address


def test_a_teredo_address_needs_both_of_its_ipv4s_allowed_or_public() -> None:
    # Server 10.0.0.1 (allowed), client 127.0.0.1 (not): refused on the client.
    address = "2001:0:a00:1:0:0:80ff:fffe"
    refusal = AddressPolicy.allowing("10.0.0.0/8").refusal(address)
    assert refusal is not None and "client is 127.0.0.1" in refusal
    assert AddressPolicy.allowing("10.0.0.0/8", "127.0.0.1").refusal(address) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("93.184.216.34", []),
        ("::1", []),
        ("::", []),
        ("2606:4700::1111", []),
        ("::ffff:102:304", ["1.2.3.4"]),
        ("::102:304", ["1.2.3.4"]),
        ("::ffff:0:102:304", ["1.2.3.4"]),
        ("64:ff9b::102:304", ["1.2.3.4"]),
        ("64:ff9b:1:abcd::102:304", ["1.2.3.4"]),
        ("2002:102:304:5::6", ["1.2.3.4"]),
        ("2001:0:102:304:8000:ffff:fefd:fcfb", ["1.2.3.4", "1.2.3.4"]),
    ],
)
def test_embedded_ipv4_reads_each_form(address: str, expected: list[str]) -> None:
    found = [str(ipv4) for _, ipv4 in embedded_ipv4(ipaddress.ip_address(address))]
    assert found == expected


def test_a_policy_judges_each_address_the_same_every_time() -> None:
    """Judgments are kept per address (a monitor's address returns at every check): asking
    again, in any order, gives what a fresh policy says."""
    policy = AddressPolicy.allowing("10.1.0.0/16")
    addresses = ["10.0.0.1", "8.8.8.8", "10.1.2.3", "127.0.0.1", "::ffff:10.0.0.1", "2606:4700::1"]
    first = [policy.refusal(a) for a in addresses]
    again = [policy.refusal(a) for a in reversed(addresses)][::-1]
    fresh = [AddressPolicy.allowing("10.1.0.0/16").refusal(a) for a in addresses]
    assert first == again == fresh
    assert first[1] is None and first[2] is None and first[0] is not None
    assert AddressPolicy.allowing("10.1.0.0/16") == policy  # what is kept is not compared

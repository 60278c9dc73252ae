//! Which IP addresses are never an ordinary public origin: one table per family, built from the IANA
//! special-purpose address registries, and the pure [`classify`] function over them (docs/contract.md, Safety).
//!
//! Sources (the rows below cite the RFC each registry row cites):
//! - IANA IPv4 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv4-special-registry/>, plus the IPv4 multicast space
//!   (`224.0.0.0/4`, RFC 5771) and the deprecated 6to4 relay anycast prefix `192.88.99.0/24` (RFC 7526).
//! - IANA IPv6 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv6-special-registry/>, plus the IPv6 multicast space
//!   (`ff00::/8`, RFC 4291) and the deprecated site-local prefix `fec0::/10` (RFC 3879).
//! - Cloud metadata endpoints (no registry): AWS, GCP, Azure and others at `169.254.169.254`, AWS Nitro's
//!   IPv6 `fd00:ec2::254`, Alibaba Cloud's `100.100.100.200`. These are refused even when private networks
//!   are allowed.
//!
//! Every registry row whose "Globally Reachable" column is `False` is in the table; rows marked `True`
//! (anycast services, AMT, AS112, ORCHIDv2, …) are public addresses and are not, except the two anycast
//! addresses inside `192.0.0.0/24`, which are refused with the block (they are never a file host). IPv6
//! forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 `64:ff9b::/96`,
//! 6to4, Teredo) are judged by that IPv4 address. The most specific matching row wins.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why an address is refused (while private networks are not allowed; [`AddressClass::Metadata`] always).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8` ("this network").
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), deprecated IPv6 site-local `fec0::/10`, local-use
    /// NAT64 `64:ff9b:1::/48`.
    Private,
    /// Shared address space `100.64.0.0/10` (carrier-grade NAT).
    SharedCgnat,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// IPv6 unique-local `fc00::/7`.
    UniqueLocal,
    /// A cloud metadata endpoint: `169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`. Refused always.
    Metadata,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Other special-purpose ranges that are never a public origin: IETF protocol assignments, the
    /// documentation and benchmarking nets, the 6to4 relay anycast, `240.0.0.0/4`, discard-only, SRv6 SIDs.
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Unspecified => "unspecified",
            AddressClass::ThisNetwork => "this-network",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::SharedCgnat => "shared (CGNAT)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// Where an IPv6 form carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedded {
    /// The last 32 bits (mapped, compatible, translated, NAT64).
    Low32,
    /// Bits 16..48 (6to4, RFC 3056).
    SixToFour,
    /// The Teredo client: the last 32 bits inverted (RFC 4380 §4).
    TeredoClient,
}

/// What a table row says about the addresses it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Refused, for this reason.
    Refuse(AddressClass),
    /// Judged by the IPv4 address it embeds.
    Embeds(Embedded),
    /// Globally reachable, inside a wider refused row.
    Public,
}

use AddressClass::*;
use Rule::Refuse;

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        len,
    )
}

/// The IPv4 table: (range, class, source).
const V4: &[(Ipv4Net, AddressClass, &str)] = &[
    (v4(0, 0, 0, 0, 8), ThisNetwork, "RFC 791 \"this network\""),
    (
        v4(0, 0, 0, 0, 32),
        Unspecified,
        "RFC 1122 \"this host on this network\"",
    ),
    (v4(10, 0, 0, 0, 8), Private, "RFC 1918"),
    (v4(100, 64, 0, 0, 10), SharedCgnat, "RFC 6598"),
    (
        v4(100, 100, 100, 200, 32),
        Metadata,
        "Alibaba Cloud metadata",
    ),
    (v4(127, 0, 0, 0, 8), Loopback, "RFC 1122"),
    (v4(169, 254, 0, 0, 16), LinkLocal, "RFC 3927"),
    (
        v4(169, 254, 169, 254, 32),
        Metadata,
        "AWS, GCP, Azure metadata",
    ),
    (v4(172, 16, 0, 0, 12), Private, "RFC 1918"),
    (
        v4(192, 0, 0, 0, 24),
        Reserved,
        "RFC 6890 IETF protocol assignments",
    ),
    (v4(192, 0, 2, 0, 24), Reserved, "RFC 5737 TEST-NET-1"),
    (
        v4(192, 88, 99, 0, 24),
        Reserved,
        "RFC 7526 6to4 relay anycast",
    ),
    (v4(192, 168, 0, 0, 16), Private, "RFC 1918"),
    (v4(198, 18, 0, 0, 15), Reserved, "RFC 2544 benchmarking"),
    (v4(198, 51, 100, 0, 24), Reserved, "RFC 5737 TEST-NET-2"),
    (v4(203, 0, 113, 0, 24), Reserved, "RFC 5737 TEST-NET-3"),
    (v4(224, 0, 0, 0, 4), Multicast, "RFC 5771"),
    (v4(240, 0, 0, 0, 4), Reserved, "RFC 1112 reserved"),
    (
        v4(255, 255, 255, 255, 32),
        Broadcast,
        "RFC 919 limited broadcast",
    ),
];

/// The IPv6 table: (range, rule, source).
const V6: &[(Ipv6Net, Rule, &str)] = &[
    (v6([0; 8], 128), Refuse(Unspecified), "RFC 4291"),
    (
        v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
        Refuse(Loopback),
        "RFC 4291",
    ),
    (
        v6([0; 8], 96),
        Rule::Embeds(Embedded::Low32),
        "RFC 4291 IPv4-compatible (deprecated)",
    ),
    (
        v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
        Rule::Embeds(Embedded::Low32),
        "RFC 4291 IPv4-mapped",
    ),
    (
        v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
        Rule::Embeds(Embedded::Low32),
        "RFC 2765 IPv4-translated",
    ),
    (
        v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
        Rule::Embeds(Embedded::Low32),
        "RFC 6052 NAT64",
    ),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        Refuse(Private),
        "RFC 8215 local-use NAT64",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        Refuse(Reserved),
        "RFC 6666 discard-only",
    ),
    (
        v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64),
        Refuse(Reserved),
        "RFC 9780 dummy prefix",
    ),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        Refuse(Reserved),
        "RFC 2928 IETF protocol assignments",
    ),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),
        Rule::Embeds(Embedded::TeredoClient),
        "RFC 4380 Teredo",
    ),
    (
        v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128),
        Rule::Public,
        "RFC 7723 PCP anycast",
    ),
    (
        v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128),
        Rule::Public,
        "RFC 8155 TURN anycast",
    ),
    (
        v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32),
        Rule::Public,
        "RFC 7450 AMT",
    ),
    (
        v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48),
        Rule::Public,
        "RFC 7535 AS112-v6",
    ),
    (
        v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),
        Rule::Public,
        "RFC 7343 ORCHIDv2",
    ),
    (
        v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),
        Rule::Public,
        "RFC 9374 DRIP DET",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        Refuse(Reserved),
        "RFC 3849 documentation",
    ),
    (
        v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        Rule::Embeds(Embedded::SixToFour),
        "RFC 3056 6to4",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        Refuse(Reserved),
        "RFC 9637 documentation",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        Refuse(Reserved),
        "RFC 9602 SRv6 SIDs",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        Refuse(UniqueLocal),
        "RFC 4193",
    ),
    (
        v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
        Refuse(Metadata),
        "AWS Nitro metadata",
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        Refuse(LinkLocal),
        "RFC 4291",
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        Refuse(Private),
        "RFC 3879 site-local (deprecated)",
    ),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        Refuse(Multicast),
        "RFC 4291",
    ),
];

/// Classifies `ip`: `None` for an ordinary public address, else the reason it is refused (while private
/// networks are not allowed; a [`AddressClass::Metadata`] address always).
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    V4.iter()
        .filter(|(net, _, _)| net.contains(&ip))
        .max_by_key(|(net, _, _)| net.prefix_len())
        .map(|(_, class, _)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let rule = V6
        .iter()
        .filter(|(net, _, _)| net.contains(&ip))
        .max_by_key(|(net, _, _)| net.prefix_len())
        .map(|(_, rule, _)| *rule)?;
    let bits = u128::from(ip);
    // Truncations keep exactly the 32 bits named.
    let embedded = match rule {
        Refuse(class) => return Some(class),
        Rule::Public => return None,
        Rule::Embeds(Embedded::Low32) => bits as u32,
        Rule::Embeds(Embedded::SixToFour) => (bits >> 80) as u32,
        Rule::Embeds(Embedded::TeredoClient) => !(bits as u32),
    };
    classify_v4(Ipv4Addr::from(embedded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<AddressClass> {
        classify(s.parse().expect("test address"))
    }

    fn check(table: &[(&str, Option<AddressClass>)]) {
        for (addr, want) in table {
            assert_eq!(class(addr), *want, "{addr}");
        }
    }

    #[test]
    fn ipv4_rows() {
        check(&[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(ThisNetwork)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("169.254.1.1", Some(LinkLocal)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.1", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("198.19.255.255", Some(Reserved)),
            ("198.51.100.7", Some(Reserved)),
            ("203.0.113.7", Some(Reserved)),
            ("192.88.99.1", Some(Reserved)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("192.169.0.1", None),
            ("192.88.98.1", None),
            ("198.20.0.1", None),
        ]);
    }

    #[test]
    fn metadata_endpoints_are_their_own_class() {
        check(&[
            ("169.254.169.254", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("fd00:ec2::254", Some(Metadata)),
            ("169.254.169.253", Some(LinkLocal)),
            ("100.100.100.201", Some(SharedCgnat)),
            ("fd00:ec2::253", Some(UniqueLocal)),
        ]);
    }

    #[test]
    fn ipv6_rows() {
        check(&[
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Reserved)),
            ("3fff::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("5f00::1", Some(Reserved)),
            ("2001:2::1", Some(Reserved)),
            ("2001:10::1", Some(Reserved)),
            ("64:ff9b:1::1", Some(Private)),
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("2001:1::1", None),
            ("2001:20::1", None),
            ("fe00::1", None),
        ]);
    }

    #[test]
    fn mapped_compatible_and_translated_forms_are_judged_by_their_ipv4() {
        check(&[
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Loopback)),
            ("::8.8.8.8", None),
            ("::ffff:0:127.0.0.1", Some(Loopback)),
            ("::ffff:0:192.168.0.1", Some(Private)),
            ("::ffff:0:100.100.100.200", Some(Metadata)),
            ("::ffff:0:8.8.8.8", None),
        ]);
    }

    #[test]
    fn nat64_and_6to4_are_judged_by_their_ipv4() {
        check(&[
            ("64:ff9b::192.168.0.1", Some(Private)),
            ("64:ff9b::169.254.169.254", Some(Metadata)),
            ("64:ff9b::8.8.8.8", None),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:a9fe:a9fe::1", Some(Metadata)),
            ("2002:c058:6301::1", Some(Reserved)),
            ("2002:808:808::1", None),
        ]);
    }

    #[test]
    fn teredo_is_judged_by_its_client_ipv4() {
        // 2001:0:<server v4>:<flags>:<port ^ ffff>:<client v4 ^ ffffffff>; the server here is public.
        let teredo = |client: Ipv4Addr| {
            let low = !u32::from(client);
            let s = format!(
                "2001:0:4136:e378:8000:63bf:{:x}:{:x}",
                low >> 16,
                low & 0xffff
            );
            class(&s)
        };
        assert_eq!(teredo(Ipv4Addr::new(127, 0, 0, 1)), Some(Loopback));
        assert_eq!(teredo(Ipv4Addr::new(10, 0, 0, 1)), Some(Private));
        assert_eq!(teredo(Ipv4Addr::new(169, 254, 169, 254)), Some(Metadata));
        assert_eq!(teredo(Ipv4Addr::new(8, 8, 8, 8)), None);
        // The RFC 4380 §4 example client 192.0.2.45 (documentation) as its address reads it.
        assert_eq!(
            class("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            Some(Reserved)
        );
    }

    #[test]
    fn every_row_is_a_canonical_network() {
        for (net, _, source) in V4 {
            assert_eq!(net.addr(), net.network(), "{net} ({source})");
        }
        for (net, _, source) in V6 {
            assert_eq!(net.addr(), net.network(), "{net} ({source})");
        }
    }
}

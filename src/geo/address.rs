//! Which addresses are worth a database lookup at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are never a visitor's public address: "this network", private (RFC 1918),
/// shared CGNAT space, loopback, link-local, IETF protocol assignments, the three documentation
/// ranges, benchmarking, multicast, reserved and broadcast.
const NOT_PUBLIC_V4: [(u32, u8); 14] = [
    (0x0000_0000, 8),  // 0.0.0.0/8
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0x6440_0000, 10), // 100.64.0.0/10
    (0x7F00_0000, 8),  // 127.0.0.0/8
    (0xA9FE_0000, 16), // 169.254.0.0/16
    (0xAC10_0000, 12), // 172.16.0.0/12
    (0xC000_0000, 24), // 192.0.0.0/24
    (0xC000_0200, 24), // 192.0.2.0/24
    (0xC0A8_0000, 16), // 192.168.0.0/16
    (0xC612_0000, 15), // 198.18.0.0/15
    (0xC633_6400, 24), // 198.51.100.0/24
    (0xCB00_7100, 24), // 203.0.113.0/24
    (0xE000_0000, 4),  // 224.0.0.0/4
    (0xF000_0000, 4),  // 240.0.0.0/4, which includes 255.255.255.255
];

/// IPv6 ranges that are never a visitor's public address: the IPv4-compatible block (which
/// includes the unspecified and loopback addresses), discard-only, documentation (old and new),
/// unique-local, link-local, the deprecated site-local block and multicast.
const NOT_PUBLIC_V6: [(u128, u8); 8] = [
    (0, 96),                           // ::/96
    (0x0100_0000_0000_0000 << 64, 64), // 100::/64
    (0x2001_0db8 << 96, 32),           // 2001:db8::/32
    (0x3fff << 112, 20),               // 3fff::/20
    (0xfc00 << 112, 7),                // fc00::/7
    (0xfe80 << 112, 10),               // fe80::/10
    (0xfec0 << 112, 10),               // fec0::/10
    (0xff00 << 112, 8),                // ff00::/8
];

/// The address as the rest of the module sees it: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) becomes the IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether a lookup could say anything about this address. Expects a canonical address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !NOT_PUBLIC_V4.iter().any(|&(network, prefix)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        bits & mask == network
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    !NOT_PUBLIC_V6.iter().any(|&(network, prefix)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        bits & mask == network
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(raw: &str) -> bool {
        is_public(canonical(raw.parse().unwrap()))
    }

    #[test]
    fn private_loopback_link_local_and_unspecified_addresses_are_not_public() {
        for raw in [
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.10.10",
            "0.0.0.0",
            "100.64.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
        ] {
            assert!(!public(raw), "{raw}");
        }
    }

    #[test]
    fn documentation_multicast_and_reserved_addresses_are_not_public() {
        for raw in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.200",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "2001:db8::1",
            "3fff::1",
            "ff02::1",
            "100::1",
        ] {
            assert!(!public(raw), "{raw}");
        }
    }

    #[test]
    fn ordinary_internet_addresses_are_public() {
        for raw in [
            "8.8.8.8",
            "81.2.69.160",
            "172.32.0.1",
            "192.0.3.1",
            "203.0.114.1",
            "2a02:8070::1",
            "2001:4860::8888",
        ] {
            assert!(public(raw), "{raw}");
        }
    }

    #[test]
    fn an_ipv4_mapped_address_is_judged_as_its_ipv4_address() {
        assert!(!public("::ffff:127.0.0.1"));
        assert!(!public("::ffff:10.1.2.3"));
        assert!(public("::ffff:8.8.8.8"));
        assert_eq!(
            canonical("::ffff:8.8.8.8".parse().unwrap()),
            "8.8.8.8".parse::<IpAddr>().unwrap()
        );
    }
}

//! The visitor's address behind reverse proxies we trust, and only those.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net};

use super::address::canonical;

/// The reverse proxies whose X-Forwarded-For we believe, as networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses entries such as `10.0.0.0/8`, `192.168.1.7`, `fd00::/8` or `::1`.
    ///
    /// The error names the first entry that is neither a network nor an address.
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        let mut networks = Vec::with_capacity(list.len());
        for entry in list {
            let trimmed = entry.trim();
            let network = if trimmed.contains('/') {
                trimmed.parse::<IpNet>().ok()
            } else {
                trimmed.parse::<IpAddr>().ok().map(IpNet::from)
            };
            let Some(network) = network else {
                return Err(format!(
                    "trusted proxy entry {entry:?} is neither a network (CIDR) nor an IP address"
                ));
            };
            networks.push(canonical_network(network.trunc()));
        }
        Ok(TrustedProxies { networks })
    }

    /// Trusts no proxy: the peer address is always the client.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Whether `ip` is one of the trusted proxies. An IPv4-mapped IPv6 address counts as its
    /// IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|network| network.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// Turns an IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) into its IPv4 network, since
/// addresses are compared in canonical form.
fn canonical_network(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(v4net) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net);
    }
    network
}

/// The client's address.
///
/// If the peer is not a trusted proxy its own address is the answer, whatever X-Forwarded-For
/// says. If it is, X-Forwarded-For is read from right to left, skipping the trusted proxies, and
/// the first untrusted entry is the client. An entry that cannot be parsed ends the walk, and
/// the last trusted hop is returned rather than anything left of the garbage.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last_trusted = peer;
    for entry in header.rsplit(',') {
        let Some(hop) = parse_hop(entry.trim()) else {
            return last_trusted;
        };
        let hop = canonical(hop);
        if !trusted.contains(hop) {
            return hop;
        }
        last_trusted = hop;
    }
    last_trusted
}

/// Parses one X-Forwarded-For entry: an address, `a.b.c.d:port` or `[v6]:port`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    // `SocketAddr` rejects a bracketed address without a port, which some proxies send.
    let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ipnet::Ipv6Net;

    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        let owned: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        TrustedProxies::parse(&owned).unwrap()
    }

    #[test]
    fn cidr_entries_and_bare_addresses_of_both_families_parse() {
        let proxies = trusted(&[
            "10.0.0.0/8",
            "192.168.1.7",
            "fd00::/8",
            "::1",
            " 172.16.0.0/12 ",
        ]);
        assert!(!proxies.is_empty());
        assert!(proxies.contains(ip("10.200.3.4")));
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("fd12::5")));
        assert!(proxies.contains(ip("::1")));
        assert!(proxies.contains(ip("172.20.0.1")));
        assert!(!proxies.contains(ip("8.8.8.8")));
        assert!(!proxies.contains(ip("2a02::1")));
    }

    #[test]
    fn a_bad_entry_is_named_in_the_error() {
        for bad in ["10.0.0.0/33", "not-an-address", "", "10.0.0/8", "::1/129"] {
            let list = vec!["10.0.0.0/8".to_string(), bad.to_string()];
            let err = TrustedProxies::parse(&list).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn no_trusted_proxies_is_empty_and_contains_nothing() {
        let none = TrustedProxies::none();
        assert!(none.is_empty());
        assert!(!none.contains(ip("127.0.0.1")));
        assert!(trusted(&[]).is_empty());
    }

    #[test]
    fn an_ipv4_mapped_address_matches_an_ipv4_entry_and_the_other_way_round() {
        let proxies = trusted(&["127.0.0.1", "::ffff:10.0.0.0/104"]);
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(proxies.contains(ip("10.9.8.7")));
        assert!(proxies.contains(ip("::ffff:10.9.8.7")));
        assert!(!proxies.contains(ip("11.0.0.1")));
    }

    #[test]
    fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let got = client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &proxies);
        assert_eq!(got, ip("203.0.113.9"));
        let got = client_ip(ip("8.8.8.8"), Some("1.2.3.4"), &TrustedProxies::none());
        assert_eq!(got, ip("8.8.8.8"));
    }

    #[test]
    fn a_trusted_peer_without_forwarded_for_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), None, &proxies), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let header = "6.6.6.6, 81.2.69.160, 10.0.0.5, 10.0.0.4";
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some(header), &proxies),
            ip("81.2.69.160")
        );
    }

    #[test]
    fn a_forwarded_for_of_only_trusted_hops_gives_the_leftmost_hop() {
        let proxies = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("10.0.0.9,10.0.0.8"), &proxies),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let header = "81.2.69.160, unknown, 10.0.0.7";
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some(header), &proxies),
            ip("10.0.0.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("nonsense"), &proxies),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some(""), &proxies),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("81.2.69.160, "), &proxies),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn ports_are_stripped_from_forwarded_for_entries() {
        let proxies = trusted(&["10.0.0.0/8", "fd00::/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("1.2.3.4:5678"), &proxies),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("[2001:db8::1]:443"), &proxies),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), Some("[2a02::7]"), &proxies),
            ip("2a02::7")
        );
        assert_eq!(
            client_ip(
                ip("10.0.0.3"),
                Some("2a02::7, [fd00::1]:80, 10.1.1.1:8080"),
                &proxies
            ),
            ip("2a02::7")
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_handled_as_its_ipv4_address() {
        let proxies = trusted(&["127.0.0.1"]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), Some("81.2.69.160"), &proxies),
            ip("81.2.69.160")
        );
        assert_eq!(
            client_ip(ip("::ffff:8.8.8.8"), Some("81.2.69.160"), &proxies),
            IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))
        );
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), Some("::ffff:81.2.69.160"), &proxies),
            ip("81.2.69.160")
        );
    }

    #[test]
    fn an_ipv6_trusted_network_works_like_an_ipv4_one() {
        let proxies = TrustedProxies {
            networks: vec![IpNet::V6(Ipv6Net::new(ip6("fd00::"), 8).unwrap())],
        };
        assert_eq!(
            client_ip(ip("fd00::1"), Some("2a02::9, fd00::2"), &proxies),
            ip("2a02::9")
        );
    }

    fn ip6(raw: &str) -> Ipv6Addr {
        raw.parse().unwrap()
    }
}

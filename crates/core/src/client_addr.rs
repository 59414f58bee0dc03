//! The client address of a request: what audit rows (`app.client_ip`), refresh tokens and login throttling see.
//!
//! It is the TCP peer, unless the peer is one of the `--trusted-proxies`: then it is read from the header those
//! proxies write (`X-Forwarded-For`, or RFC 7239 `Forwarded` with `--proxy-header forwarded`), walking the hops
//! from the right (the one nearest this server) and taking the first that is not itself a trusted proxy. Every hop
//! left of that was written by the client and proves nothing; the right-most untrusted one was written by a
//! proxy we trust. Never otherwise: a request from any other peer has its headers ignored, so a client cannot
//! choose the address its failures count against or that its audit rows carry.
//!
//! Only the configured header is read: a proxy that appends to `X-Forwarded-For` passes a client's own
//! `Forwarded` header through untouched (and the other way round), so reading both would let the client pick.
//!
//! An unreadable hop (`unknown`, an obfuscated `_name`, garbage) stops the walk at the nearest known hop: the
//! trusted proxy that reported it. When every hop is a trusted proxy, the left-most is the client.

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

/// The reverse proxies whose forwarding header is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

/// The client address the server settled on for a request (put into its extensions by the server's middleware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client address of a request: [`ClientAddr`] when the middleware set it, else the TCP peer; `None` for an
/// in-process call with neither.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| canonical(ci.0.ip()))
    })
}

/// `--trusted-proxies` entries: a CIDR (`10.0.0.0/8`, `fd00::/8`) or one address (`192.168.1.10` = /32).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let net = match s.parse::<IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => match s.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "`{s}` is not a CIDR or an IP address (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)"
                ))
            }
        },
    };
    Ok(net)
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ProxyHeader) -> Self {
        Self { nets, header }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Is `ip` one of the trusted proxies?
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request that came from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in self.hops(headers).into_iter().rev() {
            match hop.map(canonical) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }

    /// The hops of the configured header, left (the original client, as claimed) to right (nearest); `None` for
    /// one that names no address. Several header lines are one list, in order.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        };
        let mut hops = Vec::new();
        for value in headers.get_all(name) {
            let Ok(value) = value.to_str() else {
                // not visible ASCII: nothing in it can be trusted, and nothing left of it either
                hops.clear();
                hops.push(None);
                continue;
            };
            match self.header {
                ProxyHeader::XForwardedFor => {
                    hops.extend(value.split(',').map(|h| parse_node(h.trim())))
                }
                ProxyHeader::Forwarded => {
                    hops.extend(split_quoted(value, ',').into_iter().map(forwarded_for))
                }
            }
        }
        hops
    }
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.1;proto=https`), `None` when it has none.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    split_quoted(element, ';').into_iter().find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim()))
            .flatten()
    })
}

/// Split on `sep` outside double quotes.
fn split_quoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`, quoted or not.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // `a.b.c.d:port`
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str], header: ProxyHeader) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter().map(|n| parse_cidr(n).unwrap()).collect(),
            header,
        )
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(p.client_ip(ip("192.0.2.7"), &h), ip("192.0.2.7"));
        // and nothing is trusted by default
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_wins() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.10"], ProxyHeader::XForwardedFor);
        // the client forged 1.1.1.1; the proxies appended the real one and each other
        let h = headers(
            "x-forwarded-for",
            &["1.1.1.1, 198.51.100.4", "192.168.1.10"],
        );
        assert_eq!(p.client_ip(ip("10.1.2.3"), &h), ip("198.51.100.4"));
        // every hop trusted: the left-most
        let h = headers("x-forwarded-for", &["10.9.9.9, 192.168.1.10"]);
        assert_eq!(p.client_ip(ip("10.1.2.3"), &h), ip("10.9.9.9"));
        // no header: the proxy itself
        assert_eq!(
            p.client_ip(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        // garbage stops at the nearest known hop
        let h = headers("x-forwarded-for", &["198.51.100.4, nonsense, 10.2.2.2"]);
        assert_eq!(p.client_ip(ip("10.1.2.3"), &h), ip("10.2.2.2"));
        // a port and a mapped IPv4 peer
        let h = headers("x-forwarded-for", &["198.51.100.4:5555"]);
        assert_eq!(p.client_ip(ip("::ffff:10.1.2.3"), &h), ip("198.51.100.4"));
    }

    #[test]
    fn forwarded_is_read_only_when_configured() {
        let p = proxies(&["127.0.0.1/32"], ProxyHeader::Forwarded);
        let mut h = headers(
            "forwarded",
            &[r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=127.0.0.1"#],
        );
        h.append("x-forwarded-for", HeaderValue::from_static("9.9.9.9"));
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers("forwarded", &["For=198.51.100.4:80;proto=http"]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.4"));
        // `unknown` and obfuscated nodes name no address
        let h = headers("forwarded", &["for=198.51.100.4, for=unknown"]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // with X-Forwarded-For configured, a client's own Forwarded header is ignored
        let xff = proxies(&["127.0.0.1/32"], ProxyHeader::XForwardedFor);
        let h = headers("forwarded", &["for=1.1.1.1"]);
        assert_eq!(xff.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn cidrs_parse_or_say_what_is_wrong() {
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_cidr("192.168.1.10").unwrap().to_string(),
            "192.168.1.10/32"
        );
        assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
        let e = parse_cidr("10.0.0.0/33").unwrap_err();
        assert!(e.contains("10.0.0.0/33") && e.contains("CIDR"), "{e}");
        assert!(parse_cidr("proxy.local").is_err());
    }
}

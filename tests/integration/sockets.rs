//! The DNS sockets are set up as an internet-facing name server's: checked on the sockets
//! `dns::bind` returns, through the kernel's own view of them.

use std::net::SocketAddr;

use rustix::net::sockopt::{self, Ipv4PathMtuDiscovery, Ipv6PathMtuDiscovery};

/// No DF bit and no path MTU learnt from ICMP on any UDP socket (IP_PMTUDISC_OMIT), v4 and
/// v6 alike; Linux's default (WANT) would let a forged ICMP message fragment our answers.
#[test]
fn udp_sockets_neither_set_df_nor_learn_the_path_mtu() {
    let v4: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sockets = meridian::dns::bind(v4, 3).unwrap();
    assert_eq!(sockets.udp.len(), 3);
    for socket in &sockets.udp {
        assert_eq!(
            sockopt::ip_mtu_discover(socket).unwrap(),
            Ipv4PathMtuDiscovery::OMIT
        );
    }
    let v6: SocketAddr = "[::1]:0".parse().unwrap();
    let sockets = meridian::dns::bind(v6, 2).unwrap();
    for socket in &sockets.udp {
        assert_eq!(
            sockopt::ipv6_mtu_discover(socket).unwrap(),
            Ipv6PathMtuDiscovery::OMIT
        );
    }
}

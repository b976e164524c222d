//! Free loopback ports: bound to 127.0.0.1:0 all at once (so they are distinct), then
//! released for the process under test to bind. Another process may take one in
//! between; `Xgate::start` retries with fresh ports when that happens.

use std::net::TcpListener;

pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// A loopback port nobody listens on: what a bot that is down looks like.
pub fn closed_port() -> u16 {
    free_ports(1)[0]
}

//! Test certificates: a CA and a server certificate for 127.0.0.1 and localhost, for the
//! test slapd and xgate's own TLS listener.

use std::path::Path;

/// A CA and a server certificate for 127.0.0.1 signed by it (a trust anchor must be a
/// CA: rustls does not accept a self-signed leaf as its own root).
pub fn write_certificates(p: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "xgate test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    std::fs::write(p.join("ca.pem"), ca.pem()).expect("ca.pem");
    std::fs::write(p.join("server.pem"), cert.pem()).expect("server.pem");
    std::fs::write(p.join("server.key"), key.serialize_pem()).expect("server.key");
}

//! Outgoing TLS, one way for every upstream (the tenants' bots and directories): ring,
//! the platform's roots plus the tenant's own CA file when it names one.

use std::sync::Arc;

/// `ca_key` names the config key of the CA file (`bot.ca_file`, `auth.ldap.ca_file`) in
/// the errors, so the operator knows which file to fix.
pub fn client_config(ca_pem: Option<&[u8]>, ca_key: &str) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    #[allow(deprecated)] // ring is the brief's choice; see serve.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match ca_pem {
        None => rustls_platform_verifier::Verifier::new(provider.clone()),
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{ca_key} is not a PEM certificate bundle: {e}"))?;
            if certs.is_empty() {
                return Err(format!("{ca_key} holds no certificate"));
            }
            rustls_platform_verifier::Verifier::new_with_extra_roots(certs, provider.clone())
        }
    }
    .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

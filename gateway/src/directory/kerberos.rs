//! `Negotiate` (SPNEGO/Kerberos): one token from the browser or Outlook, accepted with
//! the tenant's own keytab, gives the user's principal.
//!
//! Owns the GSSAPI calls. It must never use the process-wide default keytab (tenants
//! live in different forests, so each names its own through a credential store), never
//! accept a token for another service than the tenant's `service_principal`, and never
//! accept a principal of a realm other than the tenant's. GSSAPI blocks: callers
//! run `accept` on a blocking thread.

use std::ffi::CString;
use std::ptr;

use libgssapi::context::{SecurityContext, ServerCtx};
use libgssapi::credential::Cred;
use libgssapi_sys as sys;
use xgate_tenants::config::KerberosSettings;

pub struct Kerberos {
    keytab: CString,
    service_principal: String,
    realm: String,
}

impl Kerberos {
    pub fn new(settings: &KerberosSettings) -> Result<Kerberos, String> {
        let keytab = CString::new(format!("FILE:{}", settings.keytab.display()))
            .map_err(|_| "auth.kerberos.keytab: the path contains a NUL byte".to_string())?;
        Ok(Kerberos {
            keytab,
            service_principal: settings.service_principal.clone(),
            realm: settings.realm.clone(),
        })
    }

    /// The account name (`alice` of `alice@ACME.LOCAL`) the token proves, and the token
    /// to send back (`WWW-Authenticate: Negotiate <it>`) when the client asked for mutual
    /// authentication, as IIS does.
    pub fn accept(&self, token: &[u8]) -> Result<(String, Option<Vec<u8>>), String> {
        let cred = self.acceptor_cred()?;
        let mut ctx = ServerCtx::new(Some(cred));
        let reply = ctx
            .step(token, None)
            .map_err(|e| e.to_string())?
            .map(|buf| buf.to_vec())
            .filter(|b| !b.is_empty());
        if !ctx.is_complete() {
            // Kerberos through SPNEGO completes in one token; NTLM would not.
            return Err("the token needs more round trips (not Kerberos?)".into());
        }
        // The keytab may hold other services' keys; only this tenant's service counts.
        let target = ctx.target_name().map_err(|e| e.to_string())?.to_string();
        if target != self.service_principal {
            return Err(format!(
                "the token is for `{target}`, not `{}`",
                self.service_principal
            ));
        }
        let name = ctx.source_name().map_err(|e| e.to_string())?.to_string();
        let Some((user, realm)) = name.rsplit_once('@') else {
            return Err(format!("principal `{name}` has no realm"));
        };
        if realm != self.realm {
            return Err(format!("principal `{name}` is not of realm {}", self.realm));
        }
        Ok((user.to_string(), reply))
    }

    /// Whether acceptor credentials can be had from the keytab at all, without a
    /// client's token: for `xgate diagnose`.
    pub fn check_keytab(&self) -> Result<(), String> {
        self.acceptor_cred().map(|_| ())
    }

    /// Acceptor credentials from this tenant's keytab (`gss_acquire_cred_from`, a MIT
    /// extension), any service principal the keytab holds.
    fn acceptor_cred(&self) -> Result<Cred, String> {
        let key = c"keytab";
        let mut element = sys::gss_key_value_element_desc {
            key: key.as_ptr(),
            value: self.keytab.as_ptr(),
        };
        let store = sys::gss_key_value_set_desc {
            count: 1,
            elements: &mut element,
        };
        let mut minor: sys::OM_uint32 = 0;
        let mut cred: sys::gss_cred_id_t = ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `store` and its element borrow
        // `self.keytab` and a static string; `cred` is written by the library and owned
        // by the `Cred` made from it, which releases it.
        let major = unsafe {
            sys::gss_acquire_cred_from(
                &mut minor,
                ptr::null_mut(),
                sys::_GSS_C_INDEFINITE,
                ptr::null_mut(),
                sys::GSS_C_ACCEPT as sys::gss_cred_usage_t,
                &store,
                &mut cred,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if major != 0 {
            return Err(format!(
                "cannot use keytab {:?}: major {major:#x}, minor {minor}",
                self.keytab
            ));
        }
        // SAFETY: `cred` is a valid credential the call just created and nobody else owns.
        Ok(unsafe { Cred::from_c(cred) })
    }
}

//! Which service a `Negotiate` token is for, read before any keytab is tried.
//!
//! On a shared listener the tenant is not known from the port, and a domain-joined
//! Outlook sends no address, only its Kerberos ticket. The ticket's realm and service
//! name travel in clear (RFC 4120 §5.3: only its `enc-part` is encrypted), so they pick
//! the tenant whose `service_principal` they name; that tenant's keytab then decides
//! whether the token is genuine. Nothing read here is trusted beyond that choice.
//!
//! Shapes accepted: SPNEGO (RFC 4178) `NegTokenInit` wrapping a Kerberos mechToken, or
//! a bare Kerberos GSS-API token (RFC 1964 / 4121), whose body is an AP-REQ.

/// DER tags met on the way to the ticket.
const APPLICATION_0: u8 = 0x60; // GSS-API InitialContextToken
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const GENERAL_STRING: u8 = 0x1b;
const AP_REQ: u8 = 0x6e; // [APPLICATION 14]
const TICKET: u8 = 0x61; // [APPLICATION 1]
const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// 1.3.6.1.5.5.2, SPNEGO.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// 1.2.840.113554.1.2.2, Kerberos V5 (and the 1.2.840.48018.1.2.2 Microsoft alias).
const KRB5_OIDS: [&[u8]; 2] = [
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02],
    &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02],
];
/// RFC 4121 §4.1: the token id of an AP-REQ inside the GSS-API framing.
const TOK_ID_AP_REQ: &[u8] = &[0x01, 0x00];

/// `HTTP/host@REALM`, as the ticket names its service.
pub fn service_principal(token: &[u8]) -> Option<String> {
    let (tag, body, _) = tlv(token)?;
    if tag != APPLICATION_0 {
        return None;
    }
    let (oid_tag, oid, rest) = tlv(body)?;
    if oid_tag != OID {
        return None;
    }
    if oid == SPNEGO_OID {
        return service_principal(mech_token(rest)?);
    }
    if !KRB5_OIDS.contains(&oid) {
        return None;
    }
    let ap_req = rest.strip_prefix(TOK_ID_AP_REQ)?;
    ticket_service(ap_req)
}

/// The Kerberos token inside a `NegTokenInit` (`[0] SEQUENCE { ..., [2] mechToken }`).
fn mech_token(neg_token: &[u8]) -> Option<&[u8]> {
    let init = expect(neg_token, context(0))?;
    let fields = expect(init, SEQUENCE)?;
    let token = field(fields, 2)?;
    expect(token, OCTET_STRING)
}

/// AP-REQ `SEQUENCE { [0] pvno, [1] msg-type, [2] ap-options, [3] Ticket, ... }`, Ticket
/// `SEQUENCE { [0] tkt-vno, [1] realm, [2] sname, [3] enc-part }`.
fn ticket_service(ap_req: &[u8]) -> Option<String> {
    let fields = expect(expect(ap_req, AP_REQ)?, SEQUENCE)?;
    let ticket = expect(expect(field(fields, 3)?, TICKET)?, SEQUENCE)?;
    let realm = expect(field(ticket, 1)?, GENERAL_STRING)?;
    let sname = expect(field(ticket, 2)?, SEQUENCE)?;
    let mut names = expect(field(sname, 1)?, SEQUENCE)?;
    let mut parts = Vec::new();
    while !names.is_empty() {
        let (tag, part, rest) = tlv(names)?;
        if tag != GENERAL_STRING {
            return None;
        }
        parts.push(std::str::from_utf8(part).ok()?);
        names = rest;
    }
    let realm = std::str::from_utf8(realm).ok()?;
    (!parts.is_empty() && !realm.is_empty()).then(|| format!("{}@{realm}", parts.join("/")))
}

/// The content of the context-tagged field `[n]` of a SEQUENCE's content.
fn field(mut fields: &[u8], n: u8) -> Option<&[u8]> {
    while !fields.is_empty() {
        let (tag, body, rest) = tlv(fields)?;
        if tag == context(n) {
            return Some(body);
        }
        fields = rest;
    }
    None
}

/// The content of `input`'s single value, which must carry `tag`.
fn expect(input: &[u8], tag: u8) -> Option<&[u8]> {
    let (t, body, _) = tlv(input)?;
    (t == tag).then_some(body)
}

/// One DER value: (tag, content, what follows). Single-byte tags only: none of the
/// tags above needs more.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn ap_req(realm: &str, names: &[&str]) -> Vec<u8> {
        let int = |v: u8| der(0x02, &[v]);
        let name_strings: Vec<Vec<u8>> = names
            .iter()
            .map(|n| der(GENERAL_STRING, n.as_bytes()))
            .collect();
        let sname = der(
            SEQUENCE,
            &cat(&[
                der(context(0), &int(2)),
                der(context(1), &der(SEQUENCE, &cat(&name_strings))),
            ]),
        );
        let ticket = der(
            TICKET,
            &der(
                SEQUENCE,
                &cat(&[
                    der(context(0), &int(5)),
                    der(context(1), &der(GENERAL_STRING, realm.as_bytes())),
                    der(context(2), &sname),
                    der(context(3), &der(SEQUENCE, &[0u8; 300])),
                ]),
            ),
        );
        der(
            AP_REQ,
            &der(
                SEQUENCE,
                &cat(&[
                    der(context(0), &int(5)),
                    der(context(1), &int(14)),
                    der(context(2), &der(0x03, &[0, 0, 0, 0, 0])),
                    der(context(3), &ticket),
                    der(context(4), &der(SEQUENCE, &[0u8; 40])),
                ]),
            ),
        )
    }

    fn krb5_token(realm: &str, names: &[&str]) -> Vec<u8> {
        der(
            APPLICATION_0,
            &cat(&[
                der(OID, KRB5_OIDS[0]),
                TOK_ID_AP_REQ.to_vec(),
                ap_req(realm, names),
            ]),
        )
    }

    fn spnego(inner: &[u8]) -> Vec<u8> {
        let mech_types = der(context(0), &der(SEQUENCE, &der(OID, KRB5_OIDS[1])));
        let mech_token = der(context(2), &der(OCTET_STRING, inner));
        der(
            APPLICATION_0,
            &cat(&[
                der(OID, SPNEGO_OID),
                der(context(0), &der(SEQUENCE, &cat(&[mech_types, mech_token]))),
            ]),
        )
    }

    #[test]
    fn reads_the_service_of_a_bare_and_a_wrapped_ticket() {
        let bare = krb5_token("ACME.TEST", &["HTTP", "xgate.acme.test"]);
        assert_eq!(
            service_principal(&bare).as_deref(),
            Some("HTTP/xgate.acme.test@ACME.TEST")
        );
        assert_eq!(
            service_principal(&spnego(&bare)).as_deref(),
            Some("HTTP/xgate.acme.test@ACME.TEST")
        );
    }

    #[test]
    fn anything_else_names_no_service() {
        let good = spnego(&krb5_token("ACME.TEST", &["HTTP", "h"]));
        for cut in [1, 2, 10, good.len() / 2, good.len() - 1] {
            assert_eq!(service_principal(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(service_principal(b"\x60\x82 not a kerberos token"), None);
        assert_eq!(service_principal(b""), None);
        // NTLM through SPNEGO: no Kerberos inside.
        let ntlm = spnego(b"NTLMSSP\0\x01\0\0\0");
        assert_eq!(service_principal(&ntlm), None);
        // A ticket without a realm.
        assert_eq!(service_principal(&krb5_token("", &["HTTP", "h"])), None);
    }
}

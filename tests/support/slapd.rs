//! A real OpenLDAP `slapd` for the directory tests: its own config, database and
//! certificates in a tempdir, `ldap://` (StartTLS) and `ldaps://` on free loopback ports.
//!
//! The directory looks like a small Active Directory: users carry `sAMAccountName`,
//! `userPrincipalName`, `mail`, `displayName`, `ipPhone` and `proxyAddresses` (a local
//! schema adds those AD attributes), groups are `groupOfNames` and the `memberof`
//! overlay maintains `memberOf`. Like AD, it lets a DN with an empty password bind
//! "unauthenticated" (`allow bind_anon_dn`), so a gateway that forgets to refuse
//! empty passwords is caught.
//!
//! slapd runs in the foreground with `-d stats`: its stderr is the log of every
//! operation, which the tests read to count binds.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{ports, reaper};

const SCHEMA: &str = r#"
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'proxyAddresses'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.55555.1.4 NAME 'ipPhone'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'xgateAdUser' SUP top AUXILIARY
  MAY ( sAMAccountName $ userPrincipalName $ proxyAddresses $ ipPhone ) )
"#;

/// The service account every tenant's config binds as.
pub const SERVICE_DN_RDN: &str = "cn=xgate-svc";
pub const SERVICE_PASSWORD: &str = "svc-Passw0rd";
/// The group `required_group` names.
pub const GROUP_RDN: &str = "cn=xgate-users,ou=groups";

/// A user to load.
#[derive(Clone, Debug)]
pub struct LdapUser {
    pub login: String,
    pub password: String,
    pub mail: String,
    pub name: String,
    pub sip: String,
    /// Extra `smtp:` addresses of the mailbox.
    pub aliases: Vec<String>,
    pub in_group: bool,
}

impl LdapUser {
    pub fn new(login: &str, password: &str, mail: &str) -> LdapUser {
        LdapUser {
            login: login.into(),
            password: password.into(),
            mail: mail.into(),
            name: format!("{login} Testov"),
            sip: String::new(),
            aliases: Vec::new(),
            in_group: true,
        }
    }
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    pub fn sip(mut self, sip: &str) -> Self {
        self.sip = sip.into();
        self
    }
    pub fn alias(mut self, mail: &str) -> Self {
        self.aliases.push(mail.into());
        self
    }
    pub fn outside_group(mut self) -> Self {
        self.in_group = false;
        self
    }
}

pub struct Slapd {
    suffix: String,
    ldap: SocketAddr,
    ldaps: SocketAddr,
    dir: tempfile::TempDir,
    child: Mutex<Option<Child>>,
}

impl Slapd {
    /// Starts a directory for `suffix` (`dc=acme,dc=test`) with these users.
    pub fn start(suffix: &str, users: &[LdapUser]) -> Slapd {
        let dir = tempfile::tempdir().expect("tempdir for slapd");
        let p = dir.path();
        std::fs::create_dir_all(p.join("db")).expect("slapd db dir");
        crate::certs::write_certificates(p);
        std::fs::write(p.join("xgate-ad.schema"), SCHEMA).expect("schema");
        std::fs::write(p.join("slapd.conf"), config(p, suffix)).expect("slapd.conf");
        std::fs::write(p.join("data.ldif"), ldif(suffix, users)).expect("ldif");
        let out = Command::new("slapadd")
            .arg("-f")
            .arg(p.join("slapd.conf"))
            .arg("-l")
            .arg(p.join("data.ldif"))
            .output()
            .expect("run slapadd (apt-get install slapd)");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ports = ports::free_ports(2);
        let slapd = Slapd {
            suffix: suffix.into(),
            ldap: SocketAddr::from(([127, 0, 0, 1], ports[0])),
            ldaps: SocketAddr::from(([127, 0, 0, 1], ports[1])),
            dir,
            child: Mutex::new(None),
        };
        slapd.resume();
        slapd
    }

    /// `ldap://127.0.0.1:PORT` (StartTLS).
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}", self.ldap)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}", self.ldaps)
    }

    /// The CA that signed slapd's certificate, for `auth.ldap.ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The `[tenants.X.auth.ldap]` lines for this directory over `url`, with the group
    /// requirement when `group` is set.
    pub fn ldap_section(&self, url: &str, group: bool) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "url = \"{url}\"");
        let _ = writeln!(t, "ca_file = \"{}\"", self.ca_file().display());
        let _ = writeln!(t, "bind_dn = \"{SERVICE_DN_RDN},{}\"", self.suffix);
        let _ = writeln!(t, "bind_password = \"{SERVICE_PASSWORD}\"");
        let _ = writeln!(t, "base_dn = \"ou=people,{}\"", self.suffix);
        if group {
            let _ = writeln!(t, "required_group = \"{GROUP_RDN},{}\"", self.suffix);
        }
        t
    }

    /// slapd's operation log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// How many times `dn_rdn` (`uid=alice`) bound, successfully or not.
    pub fn binds_of(&self, rdn: &str) -> usize {
        let needle = format!("BIND dn=\"{rdn},ou=people,{}\"", self.suffix).to_lowercase();
        self.log()
            .lines()
            .filter(|l| l.to_lowercase().contains(&needle))
            .count()
    }

    /// Stops slapd (the directory is down); `resume` starts it again on the same ports.
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
            reaper::release(c.id());
        }
    }

    /// (Re)starts slapd and waits until both ports accept connections.
    pub fn resume(&self) {
        let p = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p.join("slapd.log"))
            .expect("slapd log");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut child = Command::new("slapd")
            .arg("-f")
            .arg(p.join("slapd.conf"))
            .arg("-h")
            .arg(format!("{}/ {}/", self.ldap_url(), self.ldaps_url()))
            .arg("-d")
            .arg("stats")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn slapd");
        reaper::adopt(child.id());
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("slapd exited with {status}: {}", self.log());
            }
            let up =
                |a: &SocketAddr| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok();
            if up(&self.ldap) && up(&self.ldaps) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(p: &Path, suffix: &str) -> String {
    let d = p.display();
    format!(
        r#"include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/xgate-ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
TLSCACertificateFile {d}/ca.pem
allow bind_anon_dn
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw admin-Passw0rd
directory {d}/db
overlay memberof
access to attrs=userPassword by anonymous auth by self read by * none
access to * by dn.exact="{SERVICE_DN_RDN},{suffix}" read by self read by * none
"#
    )
}

fn ldif(suffix: &str, users: &[LdapUser]) -> String {
    let dc = suffix
        .split(',')
        .next()
        .and_then(|p| p.strip_prefix("dc="))
        .unwrap_or("test");
    let mut t = format!(
        "dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\no: {dc}\ndc: {dc}\n\n\
         dn: ou=people,{suffix}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{suffix}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SERVICE_DN_RDN},{suffix}\nobjectClass: person\ncn: xgate-svc\nsn: svc\n\
         userPassword: {SERVICE_PASSWORD}\n\n"
    );
    for u in users {
        let _ = write!(
            t,
            "dn: uid={login},ou=people,{suffix}\nobjectClass: inetOrgPerson\nobjectClass: xgateAdUser\n\
             uid: {login}\ncn: {name}\nsn: {login}\ndisplayName: {name}\nmail: {mail}\n\
             sAMAccountName: {login}\nuserPrincipalName: {login}@{dc}.test\nuserPassword: {pw}\n\
             proxyAddresses: SMTP:{mail}\nproxyAddresses: x500:/o=test/cn={login}\n",
            login = u.login,
            name = u.name,
            mail = u.mail,
            pw = u.password,
        );
        if !u.sip.is_empty() {
            let _ = writeln!(t, "ipPhone: {}", u.sip);
        }
        for a in &u.aliases {
            let _ = writeln!(t, "proxyAddresses: smtp:{a}");
        }
        if u.in_group {
            let _ = writeln!(t, "memberOf: {GROUP_RDN},{suffix}");
        }
        t.push('\n');
    }
    let _ = write!(
        t,
        "dn: {GROUP_RDN},{suffix}\nobjectClass: groupOfNames\ncn: xgate-users\n"
    );
    for u in users.iter().filter(|u| u.in_group) {
        let _ = writeln!(t, "member: uid={},ou=people,{suffix}", u.login);
    }
    t
}

//! The rustls connector for tokio-postgres, honouring libpq's meaning of the TLS options
//! (<https://www.postgresql.org/docs/current/libpq-ssl.html>, libpq's `fe-secure-openssl.c`),
//! with the ring provider installed explicitly (no process-wide default is needed).
//!
//! | sslmode              | root certificate file            | server certificate check       |
//! |----------------------|----------------------------------|--------------------------------|
//! | disable/allow/prefer/require | none or missing          | none (encryption only)         |
//! | allow/prefer/require | `sslrootcert` exists             | chain (like verify-ca)         |
//! | verify-ca            | `sslrootcert` (missing: error)   | chain, not the host name       |
//! | verify-full          | `sslrootcert` or `system`        | chain and host name            |
//!
//! * The system's trusted roots are used only for `sslrootcert=system` (libpq 16), which
//!   needs verify-full: a public CA sells certificates for any name, so trusting it without a
//!   name check trusts everyone. Without a root certificate file verify-ca and verify-full
//!   fail (checked in [`super::ConnSpec::parse_with`]), never fall back to the system store.
//! * Host names as libpq matches them: the SANs of the host's type (DNS names for a name, IP
//!   addresses for an address); when the certificate has none of that type, the subject's
//!   first Common Name. `*.example.com` matches one label. Case-insensitive.
//! * CRLs (`sslcrl`, `sslcrldir`, default `~/.postgresql/root.crl`) are checked with a root
//!   certificate file, for the whole chain, and an expired list fails (OpenSSL's
//!   `X509_V_FLAG_CRL_CHECK_ALL`); a missing file is no list, as in libpq.
//! * `ssl_min_protocol_version` / `ssl_max_protocol_version` within TLS 1.2 and 1.3; `sslsni`;
//!   `sslcertmode=disable`; ALPN `postgresql` with `sslnegotiation=direct`.
//! * The client key must be a regular file without group or world access (0600 or less, or
//!   0640 or less when owned by root: libpq's rule and message).
//! * Every file is read with a size cap and only if it is a regular file.
//!
//! In every mode the handshake signatures are verified with the provider's algorithms.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{ConnInfoError, ConnSpec, SslCertMode, SslMode, SslNegotiation, TlsVersion};
use crate::files;

/// The `sslrootcert` value that selects the system's trusted roots (libpq 16+).
pub(crate) const SYSTEM_ROOTS: &str = "system";

/// Size caps of the files read here.
const MAX_CERT_FILE: u64 = 4 << 20;
const MAX_KEY_FILE: u64 = 1 << 20;
const MAX_CRL_FILE: u64 = 16 << 20;
/// At most this many files are read from `sslcrldir`.
const MAX_CRL_DIR_FILES: usize = 1000;

/// How the server certificate is checked, after libpq's rules are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Encrypt only: any certificate, handshake signatures still checked.
    None,
    /// Certificate chain to a trusted root, any host name.
    Chain,
    /// Chain and host name.
    ChainAndHostName,
}

/// libpq's rule: prefer/require with an existing root certificate file behave as verify-ca.
pub(crate) fn verification(spec: &ConnSpec) -> Verification {
    match spec.sslmode {
        SslMode::VerifyFull => Verification::ChainAndHostName,
        SslMode::VerifyCa => Verification::Chain,
        SslMode::Disable | SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            match &spec.sslrootcert {
                // libpq: the file "exists" when stat() succeeds; reading it then must work.
                Some(p) if p.as_os_str() == SYSTEM_ROOTS || p.exists() => Verification::Chain,
                _ => Verification::None,
            }
        }
    }
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> ConnInfoError {
    ConnInfoError::Tls {
        reason: format!("{what}: {e}"),
    }
}

fn read_file(kind: &str, path: &Path, cap: u64) -> Result<Vec<u8>, ConnInfoError> {
    files::read_regular(path, cap).map_err(|e| ConnInfoError::Tls {
        reason: format!("{kind} {e}"),
    })
}

/// The server certificate verifier for `spec` (see the module documentation).
fn server_verifier(
    spec: &ConnSpec,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, ConnInfoError> {
    let verification = verification(spec);
    let (roots, crls) = match verification {
        Verification::None => (None, Vec::new()),
        Verification::Chain | Verification::ChainAndHostName => {
            let roots = root_store(spec.sslrootcert.as_deref())?;
            // libpq reads CRLs only next to a root certificate file, not for "system".
            let file_roots = spec
                .sslrootcert
                .as_ref()
                .is_some_and(|p| p.as_os_str() != SYSTEM_ROOTS);
            let crls = if file_roots {
                load_crls(spec.sslcrl.as_deref(), spec.sslcrldir.as_deref())?
            } else {
                Vec::new()
            };
            (Some(Arc::new(roots)), crls)
        }
    };
    Ok(Arc::new(LibpqVerifier {
        roots,
        crls,
        check_host_name: verification == Verification::ChainAndHostName,
        algorithms: provider.signature_verification_algorithms,
    }))
}

/// Builds the connector described in the module documentation.
pub(crate) fn make_tls(spec: &ConnSpec) -> Result<MakeRustlsConnect, ConnInfoError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = server_verifier(spec, &provider)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls1_2, &rustls::version::TLS12),
        (TlsVersion::Tls1_3, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| {
        *v >= spec.ssl_min_protocol_version
            && spec.ssl_max_protocol_version.is_none_or(|max| *v <= max)
    })
    .map(|(_, v)| v)
    .collect();
    if versions.is_empty() {
        return Err(ConnInfoError::Conflict {
            reason: "invalid SSL protocol version range".to_owned(),
        });
    }
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| tls_error("TLS protocol versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let client_cert = match spec.sslcertmode {
        SslCertMode::Disable => (None, None),
        SslCertMode::Allow => (spec.sslcert.as_ref(), spec.sslkey.as_ref()),
    };
    let mut config = match client_cert {
        (Some(cert), Some(key)) => {
            let pem = read_file("sslcert", cert, MAX_CERT_FILE)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    tls_error(&format!("cannot read sslcert \"{}\"", cert.display()), e)
                })?;
            if chain.is_empty() {
                return Err(ConnInfoError::Tls {
                    reason: format!("sslcert \"{}\" holds no certificate", cert.display()),
                });
            }
            let key_der = read_private_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                tls_error(
                    &format!(
                        "client certificate \"{}\" and key \"{}\"",
                        cert.display(),
                        key.display()
                    ),
                    e,
                )
            })?
        }
        (Some(_), None) => {
            return Err(ConnInfoError::Tls {
                reason: "sslcert is set but sslkey is not".to_owned(),
            });
        }
        (None, Some(_)) => {
            return Err(ConnInfoError::Tls {
                reason: "sslkey is set but sslcert is not".to_owned(),
            });
        }
        (None, None) => builder.with_no_client_auth(),
    };
    config.enable_sni = spec.sslsni;
    if spec.sslnegotiation == SslNegotiation::Direct {
        // PostgreSQL 17 accepts direct TLS only with this ALPN protocol (as libpq sends it).
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok(MakeRustlsConnect::new(config))
}

/// The client key, after libpq's checks: a regular file, no group or world access (group
/// read allowed when owned by root), PEM.
fn read_private_key(key: &Path) -> Result<PrivateKeyDer<'static>, ConnInfoError> {
    let meta = std::fs::metadata(key).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ConnInfoError::Tls {
                reason: format!(
                    "certificate present, but not private key file \"{}\"",
                    key.display()
                ),
            }
        } else {
            tls_error(
                &format!("could not stat private key file \"{}\"", key.display()),
                e,
            )
        }
    })?;
    if !meta.is_file() {
        return Err(ConnInfoError::Tls {
            reason: format!(
                "private key file \"{}\" is not a regular file",
                key.display()
            ),
        });
    }
    if key_mode_too_open(meta.uid(), meta.mode()) {
        return Err(ConnInfoError::Tls {
            reason: format!(
                "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
                key.display()
            ),
        });
    }
    let pem = read_file("sslkey", key, MAX_KEY_FILE)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| tls_error(&format!("cannot read sslkey \"{}\"", key.display()), e))
}

/// libpq's permission rule for the client key.
fn key_mode_too_open(uid: u32, mode: u32) -> bool {
    if uid == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    }
}

/// The trusted roots: the PEM file `sslrootcert`, or for `sslrootcert=system` the platform
/// store (rustls-native-certs: `SSL_CERT_FILE`, `SSL_CERT_DIR`, then the distribution's
/// bundle). No other fallback.
fn root_store(sslrootcert: Option<&Path>) -> Result<RootCertStore, ConnInfoError> {
    let mut roots = RootCertStore::empty();
    match sslrootcert {
        Some(path) if path.as_os_str() != SYSTEM_ROOTS => {
            let pem = read_file("root certificate file", path, MAX_CERT_FILE)?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    tls_error(
                        &format!(
                            "could not read root certificate file \"{}\"",
                            path.display()
                        ),
                        e,
                    )
                })?;
            let now = UnixTime::now();
            let usable: Vec<CertificateDer<'static>> = certs
                .into_iter()
                .filter(|c| usable_root(c.as_ref(), now))
                .collect();
            let (added, _ignored) = roots.add_parsable_certificates(usable);
            if added == 0 {
                return Err(ConnInfoError::Tls {
                    reason: format!(
                        "root certificate file \"{}\" holds no usable certificate (a root must be a self-signed CA certificate within its validity)",
                        path.display()
                    ),
                });
            }
        }
        Some(_) => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(ConnInfoError::Tls {
                    reason: "sslrootcert=system: no trusted root certificates found on this system (SSL_CERT_FILE, SSL_CERT_DIR or the distribution's bundle)".to_owned(),
                });
            }
        }
        None => {
            // parse_with refuses verify-ca/verify-full without a root file, and
            // `verification` asks for roots only when one exists.
            return Err(ConnInfoError::Tls {
                reason: "no root certificate file".to_owned(),
            });
        }
    }
    Ok(roots)
}

/// What OpenSSL (so libpq) requires of a trust anchor that webpki does not check: a
/// self-signed certificate (no partial chains), marked as a CA (a v1 certificate without
/// extensions counts as one, as in OpenSSL), and valid now.
fn usable_root(der: &[u8], now: UnixTime) -> bool {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::BasicConstraints;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return false;
    };
    let tbs = &cert.tbs_certificate;
    let self_signed = tbs.issuer == tbs.subject;
    let ca = match tbs.get::<BasicConstraints>() {
        Ok(Some((_, bc))) => bc.ca,
        Ok(None) => tbs.extensions.is_none(),
        Err(_) => false,
    };
    let secs = now.as_secs();
    let valid = tbs.validity.not_before.to_unix_duration().as_secs() <= secs
        && secs <= tbs.validity.not_after.to_unix_duration().as_secs();
    self_signed && ca && valid
}

/// CRLs from `sslcrl` (a file of PEM or DER lists) and every regular file of `sslcrldir`.
/// Missing files are no lists (libpq); unreadable or malformed ones are errors.
fn load_crls(
    sslcrl: Option<&Path>,
    sslcrldir: Option<&Path>,
) -> Result<Vec<webpki::CertRevocationList<'static>>, ConnInfoError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    // a list that exists turns checking on (libpq): from then on a certificate without a
    // list for its issuer fails, and so does a list that cannot be read
    let mut configured = false;
    if let Some(file) = sslcrl {
        if file.exists() {
            configured = true;
            paths.push(file.to_path_buf());
        }
    }
    if let Some(dir) = sslcrldir {
        if dir.exists() {
            configured = true;
            let entries = std::fs::read_dir(dir).map_err(|e| {
                tls_error(&format!("cannot read sslcrldir \"{}\"", dir.display()), e)
            })?;
            let mut in_dir: Vec<PathBuf> = Vec::new();
            for entry in entries {
                let path = entry
                    .map_err(|e| {
                        tls_error(&format!("cannot read sslcrldir \"{}\"", dir.display()), e)
                    })?
                    .path();
                if path.is_file() {
                    in_dir.push(path);
                }
            }
            if in_dir.len() > MAX_CRL_DIR_FILES {
                return Err(ConnInfoError::Tls {
                    reason: format!(
                        "sslcrldir \"{}\" holds more than {MAX_CRL_DIR_FILES} files",
                        dir.display()
                    ),
                });
            }
            in_dir.sort();
            paths.extend(in_dir);
        }
    }
    let mut crls = Vec::new();
    for path in paths {
        let bytes = read_file("CRL file", &path, MAX_CRL_FILE)?;
        let bad = |e: &dyn std::fmt::Display| ConnInfoError::Tls {
            reason: format!("could not read CRL file \"{}\": {e}", path.display()),
        };
        let ders: Vec<CertificateRevocationListDer<'static>> =
            if bytes.windows(10).any(|w| w == b"-----BEGIN") {
                CertificateRevocationListDer::pem_slice_iter(&bytes)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(&e))?
            } else {
                vec![CertificateRevocationListDer::from(bytes.clone())]
            };
        for der in ders {
            let owned = webpki::OwnedCertRevocationList::from_der(der.as_ref())
                .map_err(|e| bad(&format!("{e:?}")))?;
            crls.push(webpki::CertRevocationList::from(owned));
        }
    }
    if configured && crls.is_empty() {
        return Err(ConnInfoError::Tls {
            reason: "sslcrl / sslcrldir exist but hold no certificate revocation list".to_owned(),
        });
    }
    Ok(crls)
}

/// libpq's certificate checks in rustls terms, always verifying the handshake signatures:
/// * `roots: None`: any certificate (sslmode=require without a root certificate file);
/// * `roots: Some`: the chain must lead to a trusted root, checked against `crls` when there
///   are any; with `check_host_name`, the host name as libpq matches it ([`host_matches`]).
#[derive(Debug)]
struct LibpqVerifier {
    roots: Option<Arc<RootCertStore>>,
    crls: Vec<webpki::CertRevocationList<'static>>,
    check_host_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

/// webpki's verdicts as rustls reports them (the names users see in the error).
fn pki_error(e: webpki::Error) -> rustls::Error {
    use webpki::Error as E;
    let cert = match e {
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::CertExpired { .. } => CertificateError::Expired,
        E::CertNotValidYet { .. } => CertificateError::NotValidYet,
        E::CertRevoked => CertificateError::Revoked,
        E::UnknownRevocationStatus => CertificateError::UnknownRevocationStatus,
        E::CrlExpired { .. } => CertificateError::ExpiredRevocationList,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        E::BadDer | E::BadDerTime => CertificateError::BadEncoding,
        other => CertificateError::Other(OtherError(Arc::new(WebpkiError(format!("{other:?}"))))),
    };
    rustls::Error::InvalidCertificate(cert)
}

#[derive(Debug)]
struct WebpkiError(String);

impl std::fmt::Display for WebpkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WebpkiError {}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        let crl_refs: Vec<&webpki::CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = if crl_refs.is_empty() {
            None
        } else {
            webpki::RevocationOptionsBuilder::new(&crl_refs)
                .ok()
                .map(|b| {
                    b.with_depth(webpki::RevocationCheckDepth::Chain)
                        .with_status_policy(webpki::UnknownStatusPolicy::Deny)
                        .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                        .build()
                })
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            revocation,
            None,
        )
        .map_err(pki_error)?;
        if self.check_host_name {
            let host = match server_name {
                ServerName::DnsName(name) => Host::Name(name.as_ref().to_owned()),
                ServerName::IpAddress(ip) => Host::Ip(IpAddr::from(*ip)),
                _ => return Err(CertificateError::NotValidForName.into()),
            };
            if !host_matches(end_entity.as_ref(), &host) {
                return Err(CertificateError::NotValidForName.into());
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The host connected to, as the certificate must name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Name(String),
    Ip(IpAddr),
}

/// The names a certificate presents: DNS and IP SANs, and the subject's first Common Name.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    pub dns: Vec<Vec<u8>>,
    pub ips: Vec<Vec<u8>>,
    pub common_name: Option<Vec<u8>>,
}

/// Reads the names of a DER certificate; `None` when it cannot be parsed.
pub(crate) fn cert_names(der: &[u8]) -> Option<CertNames> {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let mut names = CertNames::default();
    if let Some((_, san)) = cert.tbs_certificate.get::<SubjectAltName>().ok()? {
        for name in san.0 {
            match name {
                GeneralName::DnsName(dns) => names.dns.push(dns.as_bytes().to_vec()),
                GeneralName::IpAddress(ip) => names.ips.push(ip.as_bytes().to_vec()),
                _ => {}
            }
        }
    }
    const CN: x509_cert::spki::ObjectIdentifier =
        x509_cert::spki::ObjectIdentifier::new_unwrap("2.5.4.3");
    names.common_name = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == CN)
        .map(|atv| atv.value.value().to_vec());
    Some(names)
}

/// libpq's `pgtls_verify_peer_name_matches_certificate_guts`: every DNS SAN is compared with
/// the host as text and every IP SAN with the host as an address; the Common Name is
/// compared only when the certificate has no SAN of the host's own type (no DNS SAN for a
/// name, no IP SAN for an address).
pub(crate) fn host_matches(der: &[u8], host: &Host) -> bool {
    let Some(names) = cert_names(der) else {
        return false;
    };
    let host_text = match host {
        Host::Name(n) => n.clone(),
        Host::Ip(ip) => ip.to_string(),
    };
    let host_ip: Option<Vec<u8>> = match host {
        Host::Ip(IpAddr::V4(v4)) => Some(v4.octets().to_vec()),
        Host::Ip(IpAddr::V6(v6)) => Some(v6.octets().to_vec()),
        Host::Name(_) => None,
    };
    if names.dns.iter().any(|n| name_matches(n, &host_text)) {
        return true;
    }
    if let Some(ip) = &host_ip {
        if names.ips.iter().any(|n| n == ip) {
            return true;
        }
    }
    let san_of_host_type = match host {
        Host::Name(_) => !names.dns.is_empty(),
        Host::Ip(_) => !names.ips.is_empty(),
    };
    !san_of_host_type
        && names
            .common_name
            .as_deref()
            .is_some_and(|cn| name_matches(cn, &host_text))
}

/// libpq's `pq_verify_peer_name_matches_certificate_name`: a name with an embedded NUL never
/// matches; otherwise equal ignoring ASCII case, or a `*.` wildcard for exactly one label.
fn name_matches(name: &[u8], host: &str) -> bool {
    if name.contains(&0) {
        return false;
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    // wildcard_certificate_match
    let Some(suffix) = name.strip_prefix('*') else {
        return false;
    };
    if !suffix.starts_with('.') || suffix.len() < 2 || name.len() > host.len() {
        return false;
    }
    let split = host.len() - suffix.len();
    let (Some(head), Some(tail)) = (host.get(..split), host.get(split..)) else {
        return false;
    };
    tail.eq_ignore_ascii_case(suffix) && !head.contains('.')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
        KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
    };

    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/conninfo/testdata")
            .join(name)
    }

    fn try_spec(extra: &str) -> Result<ConnSpec, ConnInfoError> {
        let env = |_: &str| None;
        ConnSpec::parse_with(Some(&format!("host=localhost user=u {extra}")), &env, None)
    }

    fn spec(extra: &str) -> ConnSpec {
        try_spec(extra).unwrap()
    }

    fn cert(name: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(testdata(name)).unwrap()
    }

    fn check_der(
        spec: &ConnSpec,
        der: &CertificateDer<'_>,
        host: &str,
    ) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = server_verifier(spec, &provider).unwrap();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        verifier
            .verify_server_cert(der, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    fn check(spec: &ConnSpec, cert_name: &str, host: &str) -> Result<(), rustls::Error> {
        check_der(spec, &cert(cert_name), host)
    }

    #[test]
    fn verification_follows_libpq() {
        let ca = testdata("ca.crt");
        let ca = ca.display();
        assert_eq!(verification(&spec("sslmode=require")), Verification::None);
        assert_eq!(verification(&spec("sslmode=prefer")), Verification::None);
        assert_eq!(
            verification(&spec(&format!("sslmode=require sslrootcert={ca}"))),
            Verification::Chain
        );
        assert_eq!(
            verification(&spec("sslmode=require sslrootcert=/nonexistent/root.crt")),
            Verification::None
        );
        assert_eq!(
            verification(&spec(&format!("sslmode=verify-ca sslrootcert={ca}"))),
            Verification::Chain
        );
        assert_eq!(
            verification(&spec(&format!("sslmode=verify-full sslrootcert={ca}"))),
            Verification::ChainAndHostName
        );
        assert_eq!(
            verification(&spec("sslrootcert=system")),
            Verification::ChainAndHostName
        );
    }

    #[test]
    fn verify_modes_need_a_root_certificate_file() {
        // libpq: no fallback to the system's roots; the message names the file it looked for.
        let home = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        for mode in ["verify-ca", "verify-full"] {
            let arg = format!("host=db.example user=u sslmode={mode}");
            let err = ConnSpec::parse_with(Some(&arg), &none, Some(home.path())).unwrap_err();
            let want = format!(
                "root certificate file \"{}\" does not exist",
                home.path().join(".postgresql/root.crt").display()
            );
            assert!(err.to_string().starts_with(&want), "{err}");
            assert!(err.to_string().contains("sslrootcert=system"), "{err}");
            let err =
                try_spec(&format!("sslmode={mode} sslrootcert=/nonexistent/root.crt")).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("root certificate file \"/nonexistent/root.crt\" does not exist"),
                "{err}"
            );
            assert!(matches!(
                try_spec(&format!("sslmode={mode}")),
                Err(ConnInfoError::NoHomeForRootCert)
            ));
        }
        // sslrootcert=system only with verify-full (libpq 16's message).
        for mode in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let err = try_spec(&format!("sslrootcert=system sslmode={mode}")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
                )
            );
        }
        // A unix socket never uses TLS: nothing to verify, no error (libpq).
        let env = |_: &str| None;
        assert!(
            ConnSpec::parse_with(Some("host=/tmp user=u sslmode=verify-full"), &env, None).is_ok()
        );
    }

    #[test]
    fn require_accepts_any_certificate() {
        let s = spec("sslmode=require");
        assert!(check(&s, "other.crt", "elsewhere").is_ok());
        assert!(check(&s, "server.crt", "localhost").is_ok());
    }

    #[test]
    fn verify_ca_checks_the_chain_but_not_the_name() {
        let s = spec(&format!(
            "sslmode=verify-ca sslrootcert={}",
            testdata("ca.crt").display()
        ));
        assert!(check(&s, "server.crt", "localhost").is_ok());
        assert!(check(&s, "server.crt", "wrong.example").is_ok());
        assert!(check(&s, "other.crt", "localhost").is_err());
        // require with an existing root file behaves like verify-ca.
        let s = spec(&format!(
            "sslmode=require sslrootcert={}",
            testdata("ca.crt").display()
        ));
        assert!(check(&s, "other.crt", "localhost").is_err());
        assert!(check(&s, "server.crt", "wrong.example").is_ok());
    }

    #[test]
    fn verify_full_checks_chain_and_name() {
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={}",
            testdata("ca.crt").display()
        ));
        assert!(check(&s, "server.crt", "localhost").is_ok());
        assert!(check(&s, "server.crt", "wrong.example").is_err());
        assert!(check(&s, "other.crt", "localhost").is_err());
        assert!(check(&s, "server.crt", "127.0.0.1").is_ok());
        assert!(check(&s, "server.crt", "127.0.0.2").is_err());
    }

    /// A certificate with these SANs and this CN (self-signed: only its names matter here).
    fn named_cert(sans: &[&str], cn: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for san in sans {
            params.subject_alt_names.push(match san.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*san).try_into().unwrap()),
            });
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "pgvitals test");
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn name(n: &str) -> Host {
        match n.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(n.to_owned()),
        }
    }

    #[test]
    fn host_names_as_libpq_matches_them() {
        // CN only (no SAN at all): matched on the CN, as libpq does; rustls alone rejects it.
        let cn_only = named_cert(&[], Some("db.example"));
        assert!(host_matches(&cn_only, &name("db.example")));
        assert!(host_matches(&cn_only, &name("DB.Example")));
        assert!(!host_matches(&cn_only, &name("other.example")));
        // A DNS SAN present: the CN no longer counts for a host name.
        let both = named_cert(&["san.example"], Some("cn.example"));
        assert!(host_matches(&both, &name("san.example")));
        assert!(!host_matches(&both, &name("cn.example")));
        // Wildcards cover one label.
        let wild = named_cert(&[], Some("*.example.com"));
        assert!(host_matches(&wild, &name("db.example.com")));
        assert!(!host_matches(&wild, &name("a.b.example.com")));
        assert!(!host_matches(&wild, &name("example.com")));
        // An IP host: IP SANs; the CN only when there is no IP SAN (even with DNS SANs).
        let ip_cn = named_cert(&["db.example"], Some("127.0.0.1"));
        assert!(host_matches(&ip_cn, &name("127.0.0.1")));
        let ip_san = named_cert(&["10.0.0.1"], Some("127.0.0.1"));
        assert!(!host_matches(&ip_san, &name("127.0.0.1")));
        assert!(host_matches(&ip_san, &name("10.0.0.1")));
        let v6 = named_cert(&["::1"], None);
        assert!(host_matches(&v6, &name("::1")));
        // No name at all never matches.
        let nameless = named_cert(&[], None);
        assert!(!host_matches(&nameless, &name("db.example")));
    }

    struct Pki {
        dir: tempfile::TempDir,
        issuer: Issuer<'static, KeyPair>,
    }

    /// A CA (written to `<dir>/ca.crt`) that can sign leaves and CRLs.
    fn pki() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "pgvitals test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        Pki {
            dir,
            issuer: Issuer::new(params, key),
        }
    }

    impl Pki {
        fn leaf(&self, host: &str, serial: u64) -> CertificateDer<'static> {
            let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
            params.serial_number = Some(SerialNumber::from(serial));
            let key = KeyPair::generate().unwrap();
            params.signed_by(&key, &self.issuer).unwrap().der().clone()
        }

        fn crl(&self, revoked: &[u64], file: &str, next_update_year: i32) -> PathBuf {
            let crl = CertificateRevocationListParams {
                this_update: rcgen::date_time_ymd(2024, 1, 1),
                next_update: rcgen::date_time_ymd(next_update_year, 1, 1),
                crl_number: SerialNumber::from(1u64),
                issuing_distribution_point: None,
                revoked_certs: revoked
                    .iter()
                    .map(|s| RevokedCertParams {
                        serial_number: SerialNumber::from(*s),
                        revocation_time: rcgen::date_time_ymd(2024, 6, 1),
                        reason_code: None,
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            }
            .signed_by(&self.issuer)
            .unwrap();
            let path = self.dir.path().join(file);
            fs::write(&path, crl.pem().unwrap()).unwrap();
            path
        }

        fn ca(&self) -> PathBuf {
            self.dir.path().join("ca.crt")
        }
    }

    #[test]
    fn revoked_certificates_are_refused() {
        let pki = pki();
        let good = pki.leaf("localhost", 7);
        let revoked = pki.leaf("localhost", 42);
        let ca = pki.ca();
        let crl = pki.crl(&[42], "root.crl", 2090);
        for mode in ["verify-ca", "verify-full", "require"] {
            let s = spec(&format!(
                "sslmode={mode} sslrootcert={} sslcrl={}",
                ca.display(),
                crl.display()
            ));
            assert!(check_der(&s, &good, "localhost").is_ok(), "{mode}");
            let err = check_der(&s, &revoked, "localhost").unwrap_err();
            assert_eq!(
                err,
                rustls::Error::InvalidCertificate(CertificateError::Revoked),
                "{mode}"
            );
        }
        // The same through sslcrldir; without any list the revoked one passes.
        let dir = pki.dir.path().join("crls");
        fs::create_dir(&dir).unwrap();
        fs::copy(&crl, dir.join("a.pem")).unwrap();
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcrldir={}",
            ca.display(),
            dir.display()
        ));
        assert!(check_der(&s, &revoked, "localhost").is_err());
        let s = spec(&format!("sslmode=verify-full sslrootcert={}", ca.display()));
        assert!(check_der(&s, &revoked, "localhost").is_ok());
        // An expired list fails every certificate (OpenSSL: CRL has expired).
        let old = pki.crl(&[], "old.crl", 2025);
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcrl={}",
            ca.display(),
            old.display()
        ));
        assert!(check_der(&s, &good, "localhost").is_err());
        // A missing list is no list (libpq); a malformed one is an error.
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcrl=/nonexistent.crl",
            ca.display()
        ));
        assert!(check_der(&s, &good, "localhost").is_ok());
        let junk = pki.dir.path().join("junk.crl");
        fs::write(&junk, "not a crl").unwrap();
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcrl={}",
            ca.display(),
            junk.display()
        ));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
    }

    #[test]
    fn make_tls_builds_for_every_sslmode() {
        let ca = testdata("ca.crt");
        for mode in ["disable", "allow", "prefer", "require"] {
            assert!(
                spec(&format!("sslmode={mode}")).make_tls().is_ok(),
                "{mode}"
            );
        }
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert!(
                spec(&format!("sslmode={mode} sslrootcert={}", ca.display()))
                    .make_tls()
                    .is_ok(),
                "{mode} with root"
            );
        }
        // The system store: usable, or a clear error where the machine has none.
        match spec("sslrootcert=system").make_tls() {
            Ok(_) => {}
            Err(e) => assert!(
                e.to_string().contains("no trusted root certificates"),
                "{e}"
            ),
        }
    }

    #[test]
    fn protocol_versions_within_what_rustls_speaks() {
        assert!(spec("ssl_min_protocol_version=TLSv1.3").make_tls().is_ok());
        assert!(
            spec("ssl_min_protocol_version=tlsv1 ssl_max_protocol_version=TLSv1.2")
                .make_tls()
                .is_ok()
        );
        let err = try_spec("ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1.1")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("oldest TLS version pgvitals speaks is TLSv1.2"),
            "{err}"
        );
        // The default minimum is TLSv1.2, so a lower maximum alone is an empty range (libpq).
        let err = try_spec("ssl_max_protocol_version=TLSv1.1").unwrap_err();
        assert_eq!(err.to_string(), "invalid SSL protocol version range");
        let err = try_spec("ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2")
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid SSL protocol version range");
        let err = try_spec("ssl_min_protocol_version=SSLv3").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ssl_min_protocol_version value: \"SSLv3\""
        );
    }

    #[test]
    fn client_key_permissions_as_libpq() {
        assert!(!key_mode_too_open(1000, 0o100600));
        assert!(!key_mode_too_open(1000, 0o100400));
        assert!(key_mode_too_open(1000, 0o100640));
        assert!(key_mode_too_open(1000, 0o100604));
        assert!(!key_mode_too_open(0, 0o100640));
        assert!(key_mode_too_open(0, 0o100660));
        assert!(key_mode_too_open(0, 0o100644));
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        fs::copy(testdata("client.key"), &key).unwrap();
        let arg = |key: &Path| {
            format!(
                "sslmode=require sslcert={} sslkey={}",
                testdata("client.crt").display(),
                key.display()
            )
        };
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(spec(&arg(&key)).make_tls().is_ok());
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = spec(&arg(&key)).make_tls().err().unwrap();
        assert!(
            err.to_string().contains("has group or world access"),
            "{err}"
        );
        // Not a regular file.
        let err = spec(&arg(Path::new("/dev/zero"))).make_tls().err().unwrap();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // sslcertmode=disable sends no certificate, so the key is not even read.
        let s = spec(&format!("{} sslcertmode=disable", arg(&key)));
        assert!(s.make_tls().is_ok());
    }

    #[test]
    fn make_tls_with_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        fs::copy(testdata("client.key"), &key).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            testdata("ca.crt").display(),
            testdata("client.crt").display(),
            key.display()
        ));
        assert!(s.make_tls().is_ok());
        // A key that does not belong to the certificate.
        let other = dir.path().join("server.key");
        fs::copy(testdata("server.key"), &other).unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).unwrap();
        let s = spec(&format!(
            "sslcert={} sslkey={}",
            testdata("client.crt").display(),
            other.display()
        ));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
    }

    #[test]
    fn make_tls_errors() {
        let s = spec(&format!("sslcert={}", testdata("client.crt").display()));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
        let s = spec(&format!("sslkey={}", testdata("client.key").display()));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
        // A key file is not a certificate.
        let s = spec(&format!(
            "sslmode=verify-ca sslrootcert={}",
            testdata("client.key").display()
        ));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
        // /dev/zero as a root certificate file: refused at once, not read forever.
        let s = spec("sslmode=require sslrootcert=/dev/zero");
        let err = s.make_tls().err().unwrap();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn a_root_must_be_a_valid_self_signed_ca() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let p = dir.path().join(name);
            fs::write(&p, pem).unwrap();
            p
        };
        let refused = |path: &Path| {
            let s = spec(&format!("sslmode=verify-ca sslrootcert={}", path.display()));
            let err = s.make_tls().err().expect("refused");
            assert!(err.to_string().contains("no usable certificate"), "{err}");
        };
        // not a CA (OpenSSL: invalid CA certificate)
        let leaf = rcgen::CertificateParams::new(vec!["db.example".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        refused(&write("leaf.crt", leaf.self_signed(&key).unwrap().pem()));
        // an expired CA
        let mut old = CertificateParams::new(Vec::<String>::new()).unwrap();
        old.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        old.not_before = rcgen::date_time_ymd(2000, 1, 1);
        old.not_after = rcgen::date_time_ymd(2001, 1, 1);
        refused(&write("old.crt", old.self_signed(&key).unwrap().pem()));
        // an intermediate alone (not self-signed): no partial chains
        let root = pki();
        let mut mid = CertificateParams::new(Vec::<String>::new()).unwrap();
        mid.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        mid.distinguished_name
            .push(DnType::CommonName, "intermediate");
        let mid_key = KeyPair::generate().unwrap();
        let mid_cert = mid.signed_by(&mid_key, &root.issuer).unwrap();
        refused(&write("mid.crt", mid_cert.pem()));
        // the valid CA is still fine
        let s = spec(&format!(
            "sslmode=verify-ca sslrootcert={}",
            root.ca().display()
        ));
        assert!(s.make_tls().is_ok());
    }

    #[test]
    fn a_crl_directory_that_exists_must_hold_lists() {
        let pki = pki();
        let empty = pki.dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcrldir={}",
            pki.ca().display(),
            empty.display()
        ));
        let err = s.make_tls().err().expect("refused");
        assert!(
            err.to_string().contains("no certificate revocation list"),
            "{err}"
        );
    }
}

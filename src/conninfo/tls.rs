//! The rustls connector for tokio-postgres, honouring libpq's meaning of `sslmode`
//! (<https://www.postgresql.org/docs/current/libpq-ssl.html>), with the ring provider installed
//! explicitly (no process-wide default is needed).
//!
//! | sslmode              | root certificate file    | server certificate check           |
//! |----------------------|--------------------------|------------------------------------|
//! | disable/allow/prefer/require | none or missing  | none (encryption only)             |
//! | allow/prefer/require | `sslrootcert` exists     | chain (like verify-ca)             |
//! | verify-ca            | `sslrootcert` or system  | chain, not the host name           |
//! | verify-full          | `sslrootcert` or system  | chain and host name                |
//!
//! "System" roots are rustls-native-certs, or webpki-roots when the platform store is empty;
//! `sslrootcert=system` asks for them explicitly. In every mode the handshake signatures are
//! verified with the provider's algorithms.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{ConnInfoError, ConnSpec, SslMode};

/// The `sslrootcert` value that selects the system's trusted roots (libpq 16+).
pub(crate) const SYSTEM_ROOTS: &str = "system";

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
                Some(p) if p.as_os_str() == SYSTEM_ROOTS || p.is_file() => Verification::Chain,
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

/// The server certificate verifier for `spec` (see the module documentation).
fn server_verifier(
    spec: &ConnSpec,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, ConnInfoError> {
    Ok(match verification(spec) {
        Verification::None => Arc::new(LibpqVerifier {
            roots: None,
            algorithms: provider.signature_verification_algorithms,
        }),
        Verification::Chain => Arc::new(LibpqVerifier {
            roots: Some(Arc::new(root_store(spec.sslrootcert.as_deref())?)),
            algorithms: provider.signature_verification_algorithms,
        }),
        Verification::ChainAndHostName => {
            let roots = Arc::new(root_store(spec.sslrootcert.as_deref())?);
            WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(provider))
                .build()
                .map_err(|e| tls_error("cannot build the certificate verifier", e))?
        }
    })
}

/// Builds the connector described in the module documentation.
pub(crate) fn make_tls(spec: &ConnSpec) -> Result<MakeRustlsConnect, ConnInfoError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = server_verifier(spec, &provider)?;
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS protocol versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&spec.sslcert, &spec.sslkey) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    tls_error(&format!("cannot read sslcert \"{}\"", cert.display()), e)
                })?;
            if chain.is_empty() {
                return Err(ConnInfoError::Tls {
                    reason: format!("sslcert \"{}\" holds no certificate", cert.display()),
                });
            }
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls_error(&format!("cannot read sslkey \"{}\"", key.display()), e))?;
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
    Ok(MakeRustlsConnect::new(config))
}

/// The trusted roots: the PEM file `sslrootcert`, else (or for `sslrootcert=system`) the
/// platform store, else webpki-roots.
fn root_store(sslrootcert: Option<&Path>) -> Result<RootCertStore, ConnInfoError> {
    let mut roots = RootCertStore::empty();
    match sslrootcert {
        Some(path) if path.as_os_str() != SYSTEM_ROOTS => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    tls_error(
                        &format!("cannot read sslrootcert \"{}\"", path.display()),
                        e,
                    )
                })?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ConnInfoError::Tls {
                    reason: format!(
                        "sslrootcert \"{}\" holds no usable certificate",
                        path.display()
                    ),
                });
            }
        }
        _ => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    Ok(roots)
}

/// The two verifications rustls does not offer, both checking that the server holds the
/// certificate's key (handshake signatures):
/// * `roots: None`: any certificate (libpq's sslmode=require without a root certificate);
/// * `roots: Some`: verify-ca, the chain must lead to a trusted root, the host name is not
///   checked.
#[derive(Debug)]
struct LibpqVerifier {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/conninfo/testdata")
            .join(name)
    }

    fn spec(extra: &str) -> ConnSpec {
        let env = |_: &str| None;
        ConnSpec::parse_with(Some(&format!("host=localhost user=u {extra}")), &env, None).unwrap()
    }

    fn cert(name: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(testdata(name)).unwrap()
    }

    fn check(spec: &ConnSpec, cert_name: &str, host: &str) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = server_verifier(spec, &provider).unwrap();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        verifier
            .verify_server_cert(&cert(cert_name), &[], &name, &[], UnixTime::now())
            .map(|_| ())
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
            verification(&spec("sslmode=verify-ca")),
            Verification::Chain
        );
        assert_eq!(
            verification(&spec("sslmode=verify-full")),
            Verification::ChainAndHostName
        );
        assert_eq!(
            verification(&spec("sslrootcert=system")),
            Verification::ChainAndHostName
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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = server_verifier(&s, &provider).unwrap();
        let ip = ServerName::try_from("127.0.0.1").unwrap();
        assert!(
            verifier
                .verify_server_cert(&cert("server.crt"), &[], &ip, &[], UnixTime::now())
                .is_ok()
        );
    }

    #[test]
    fn make_tls_builds_for_every_sslmode() {
        let ca = testdata("ca.crt");
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert!(
                spec(&format!("sslmode={mode}")).make_tls().is_ok(),
                "{mode}"
            );
            assert!(
                spec(&format!("sslmode={mode} sslrootcert={}", ca.display()))
                    .make_tls()
                    .is_ok(),
                "{mode} with root"
            );
        }
        assert!(spec("sslrootcert=system").make_tls().is_ok());
    }

    #[test]
    fn make_tls_with_client_certificate() {
        let s = spec(&format!(
            "sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            testdata("ca.crt").display(),
            testdata("client.crt").display(),
            testdata("client.key").display()
        ));
        assert!(s.make_tls().is_ok());
        // A key that does not belong to the certificate.
        let s = spec(&format!(
            "sslcert={} sslkey={}",
            testdata("client.crt").display(),
            testdata("server.key").display()
        ));
        assert!(matches!(s.make_tls(), Err(ConnInfoError::Tls { .. })));
    }

    #[test]
    fn make_tls_errors() {
        let err = spec("sslmode=verify-ca sslrootcert=/nonexistent/root.crt")
            .make_tls()
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
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
    }
}

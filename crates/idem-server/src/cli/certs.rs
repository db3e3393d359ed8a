//! `idem certs ...`: a cluster CA, node certificates (mutual TLS on the
//! Raft port, HTTPS on the API port) and client certificates (for nodes
//! started with `--tls-client-ca`). Every certificate's `notBefore` is a
//! day in the past, so that a node whose clock is behind still accepts its
//! peers'.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::auth_bootstrap::write_private;

#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub action: CertsAction,
}

#[derive(Debug, Subcommand)]
pub enum CertsAction {
    /// Create a cluster CA: DIR/ca.pem and DIR/ca.key (keep the key off the
    /// nodes once their certificates are made).
    Ca {
        /// Where to write them.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "idem cluster CA")]
        name: String,
        /// Valid for this many days.
        #[arg(long, default_value_t = 3650)]
        days: u64,
    },
    /// Create a node certificate signed by the CA: OUT/NAME.pem, OUT/NAME.key.
    Node {
        /// The directory holding ca.pem and ca.key.
        #[arg(long)]
        ca: PathBuf,
        /// The file names, and the certificate's common name.
        #[arg(long)]
        name: String,
        /// A host name or IP address peers reach the node at (its --raft
        /// host); repeat for more.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        /// Valid for this many days.
        #[arg(long, default_value_t = 825)]
        days: u64,
    },
    /// Create a client certificate signed by the CA: OUT/NAME.pem,
    /// OUT/NAME.key (for `--client-cert`/`--client-key` of the CLI, the
    /// proxy and the client library).
    Client {
        /// The directory holding ca.pem and ca.key.
        #[arg(long)]
        ca: PathBuf,
        /// The file names, and the certificate's common name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        out: PathBuf,
        /// Valid for this many days.
        #[arg(long, default_value_t = 825)]
        days: u64,
    },
}

pub fn run(args: CertsArgs) -> ExitCode {
    let result = match args.action {
        CertsAction::Ca { out, name, days } => make_ca(&out, &name, days),
        CertsAction::Node {
            ca,
            name,
            hosts,
            out,
            days,
        } => make_signed(&ca, &name, hosts, &out, days),
        CertsAction::Client {
            ca,
            name,
            out,
            days,
        } => make_signed(&ca, &name, Vec::new(), &out, days),
    };
    match result {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idem certs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// From a day ago (clocks behind still accept it) for `days` days.
fn validity(params: &mut CertificateParams, days: u64) {
    let now = SystemTime::now();
    let day = Duration::from_secs(24 * 3600);
    params.not_before = (now - day).into();
    params.not_after = (now + day * u32::try_from(days).unwrap_or(u32::MAX)).into();
}

fn write_public(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn make_ca(out: &Path, name: &str, days: u64) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let (cert_path, key_path) = (out.join("ca.pem"), out.join("ca.key"));
    if key_path.exists() {
        return Err(format!("{} exists; not replacing a CA", key_path.display()));
    }
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, days);
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    write_public(&cert_path, &cert.pem())?;
    Ok(vec![cert_path, key_path])
}

/// A certificate signed by the CA in `ca`: a node's (naming its `hosts`;
/// nodes both listen and call) or, without hosts, a client's.
fn make_signed(
    ca: &Path,
    name: &str,
    hosts: Vec<String>,
    out: &Path,
    days: u64,
) -> Result<Vec<PathBuf>, String> {
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let ca_key = KeyPair::from_pem(&read(ca.join("ca.key"))?).map_err(|e| e.to_string())?;
    let issuer =
        Issuer::from_ca_cert_pem(&read(ca.join("ca.pem"))?, ca_key).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(hosts).map_err(|e| e.to_string())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = if params.subject_alt_names.is_empty() {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    } else {
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    };
    validity(&mut params, days);
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    let (cert_path, key_path) = (
        out.join(format!("{name}.pem")),
        out.join(format!("{name}.key")),
    );
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    write_public(&cert_path, &cert.pem())?;
    Ok(vec![cert_path, key_path])
}

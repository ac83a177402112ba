//! One module per subcommand, plus what they share (cluster selection, runtimes, logging).

pub mod check;
pub mod cluster;
pub mod ctl;
pub mod dashboard;
pub mod demo;
pub mod load;
pub mod node;

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use meridian_core::{ClusterConfig, Consistency, Mode};

/// Which cluster: a file, or the built-in default; with mode overrides.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Cluster file (TOML). Without it, the built-in default cluster: us-east-1, eu-west-1,
    /// ap-south-1 on 127.0.0.1:7101-7103.
    #[arg(long, global = true, value_name = "FILE", env = "MERIDIAN_CLUSTER")]
    pub cluster: Option<PathBuf>,
    /// Override the cluster's mode: global-tables or aurora-global.
    #[arg(long, global = true, value_name = "MODE", value_enum)]
    pub mode: Option<Mode>,
    /// Override the primary region (aurora-global).
    #[arg(long, global = true, value_name = "REGION")]
    pub primary: Option<String>,
    /// Override the cluster's multi-Region consistency (global-tables): eventual, or strong
    /// (a write returns once a second region has it; exactly three regions).
    #[arg(long, global = true, value_name = "CONSISTENCY", value_enum)]
    pub multi_region_consistency: Option<Consistency>,
}

impl ClusterArgs {
    /// Load the cluster and apply the overrides.
    pub fn load(&self) -> anyhow::Result<ClusterConfig> {
        let mut c = ClusterConfig::load_or_builtin(self.cluster.as_deref())?;
        if let Ok(secret) = std::env::var("MERIDIAN_CLUSTER_SECRET") {
            meridian_core::config::check_secret(&secret)
                .map_err(|e| anyhow::anyhow!("MERIDIAN_CLUSTER_SECRET: {e}"))?;
            c.secret = Some(secret);
        }
        if let Some(m) = self.mode {
            c.mode = m;
        }
        if let Some(p) = &self.primary {
            if c.region(p).is_none() {
                bail!(
                    "--primary {p:?} is not a region of the cluster ({})",
                    c.names()
                );
            }
            c.primary = Some(p.clone());
        }
        if let Some(m) = self.multi_region_consistency {
            c.multi_region_consistency = m;
        }
        if let Err((_, why)) = c.check_multi_region() {
            bail!("{why}");
        }
        Ok(c)
    }
}

pub use meridian_client::control::runtime::runtime;

/// A count flag bounded to `min..=max`: anything else is a usage error (exit status 2), never
/// a panic on a capacity overflow or a thread that cannot be spawned.
pub fn count(min: u64, max: u64) -> impl clap::builder::TypedValueParser<Value = usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max)
}

/// Longest admin token accepted, bytes.
const MAX_TOKEN_BYTES: usize = 1024;

/// An admin token: non-empty, printable ASCII without spaces (it travels as a gRPC metadata
/// value), at most 1 KiB. An empty token would silently mean "no protection"; one that cannot
/// travel as a header would make every admin call fail. Both are refused at start.
pub fn admin_token(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err(
            "the admin token is empty: give a non-empty token, or none to run unprotected".into(),
        );
    }
    if s.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the admin token is {} bytes; at most {MAX_TOKEN_BYTES}",
            s.len()
        ));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "the admin token holds {c:?}: only printable ASCII without spaces can travel as a gRPC header"
        ));
    }
    Ok(s.to_owned())
}

/// Structured logs to stderr, filtered by `RUST_LOG` (default: `default`).
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

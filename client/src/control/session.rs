//! What a client says about itself with every request: the region it sits in, the Aurora
//! Global consistency it asks for, whether a secondary should forward its writes, and the
//! admin token — all as gRPC request metadata.

use meridian_proto::{
    ADMIN_TOKEN_HEADER, CLIENT_REGION_HEADER, CONSISTENCY_HEADER, FORWARD_HEADER,
};
use tonic::metadata::{Ascii, MetadataValue};

use crate::error::{Result, invalid};

/// Aurora Global read / forwarding consistency (Aurora's `aurora_replica_read_consistency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Consistency {
    /// No waiting.
    Eventual,
    /// A forwarded write returns once this secondary can read it back (read-your-writes).
    Session,
    /// Reads also wait until the secondary has caught up with the primary.
    Global,
}

impl Consistency {
    /// The name sent to the node (and accepted on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Eventual => "eventual",
            Consistency::Session => "session",
            Consistency::Global => "global",
        }
    }
}

/// Session settings sent with every request.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The region the client sits in (it pays the round trip to the node's region).
    pub client_region: Option<String>,
    /// Aurora Global consistency.
    pub consistency: Option<Consistency>,
    /// Ask a secondary to forward writes to the primary.
    pub forward: bool,
    /// Admin token for calls that change links, partitions or roles.
    pub admin_token: Option<String>,
}

/// Request metadata, ready to attach.
pub(crate) type Metadata = Vec<(&'static str, MetadataValue<Ascii>)>;

impl Session {
    /// A session that only carries an admin token (the control plane's, the collectors').
    pub fn admin(token: Option<&str>) -> Self {
        Self {
            admin_token: token.map(str::to_owned),
            ..Self::default()
        }
    }

    /// The metadata every request of this session carries.
    pub(crate) fn metadata(&self) -> Result<Metadata> {
        let mut meta = Vec::new();
        let mut add = |key: &'static str, value: &str| -> Result<()> {
            match MetadataValue::try_from(value) {
                Ok(v) => meta.push((key, v)),
                Err(_) => invalid!("{key}: {value:?} is not valid metadata text"),
            }
            Ok(())
        };
        if let Some(r) = &self.client_region {
            add(CLIENT_REGION_HEADER, r)?;
        }
        if let Some(c) = self.consistency {
            add(CONSISTENCY_HEADER, c.name())?;
        }
        if self.forward {
            add(FORWARD_HEADER, "true")?;
        }
        if let Some(t) = &self.admin_token {
            add(ADMIN_TOKEN_HEADER, t)?;
        }
        Ok(meta)
    }
}

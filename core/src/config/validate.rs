//! Checks of a parsed cluster file, and errors that say which file, which line and what is
//! wrong (a region listed twice, a link naming an unknown region, a bad setting...).

use super::{ClusterConfig, check_secret};
use crate::links::LinkSetting;

/// A cluster file that cannot be used, with where and what.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{location}: {message}")]
pub struct ConfigError {
    pub(super) origin: String,
    pub(super) location: String,
    pub(super) message: String,
}

/// Where an entry of an array of tables sits in the text: the line of `field` in the
/// `index`-th `[[table]]` (or of its header when the field is not written there), 1-based.
fn line_in_table(text: &str, table: &str, index: usize, field: Option<&str>) -> Option<usize> {
    let header = format!("[[{table}]]");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(index)?
        .0;
    let field_line = field.and_then(|f| {
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .position(|l| {
                l.trim_start()
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|i| start + 1 + i)
    });
    Some(field_line.unwrap_or(start) + 1)
}

impl ConfigError {
    /// An error about `field` of the `index`-th `[[table]]`, located at its line.
    fn in_table(
        origin: &str,
        text: &str,
        table: &str,
        index: usize,
        field: Option<&str>,
        message: String,
    ) -> Self {
        Self {
            origin: origin.to_owned(),
            location: line_in_table(text, table, index, field)
                .map(|l| format!(":{l}"))
                .unwrap_or_default(),
            message,
        }
    }

    fn at(origin: &str, text: &str, needle: Option<&str>, message: String) -> Self {
        let location = needle
            .and_then(|n| text.lines().position(|l| l.contains(n)))
            .map(|i| format!(":{}", i + 1))
            .unwrap_or_default();
        Self {
            origin: origin.to_owned(),
            location,
            message,
        }
    }
}

impl ClusterConfig {
    pub(super) fn validate(&self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let err = |needle: Option<&str>, message: String| {
            Err(ConfigError::at(origin, text, needle, message))
        };
        let region_err = |i: usize, field: &str, message: String| {
            Err(ConfigError::in_table(
                origin,
                text,
                "region",
                i,
                Some(field),
                message,
            ))
        };
        let link_err = |i: usize, field: Option<&str>, message: String| {
            Err(ConfigError::in_table(
                origin, text, "link", i, field, message,
            ))
        };
        if self.regions.is_empty() {
            return err(
                None,
                "no regions: add at least one [[region]] with a name and a listen address".into(),
            );
        }
        if let Some(secret) = &self.secret
            && let Err(why) = check_secret(secret)
        {
            return err(Some("secret"), why);
        }
        if let Err((region, why)) = self.check_multi_region() {
            return match region {
                Some(i) => region_err(i, "witness", why),
                None => err(Some("multi_region_consistency"), why),
            };
        }
        if self.log_retention_ms > 86_400_000 {
            return err(
                Some("log_retention_ms"),
                format!(
                    "log_retention_ms = {} is more than a day (86400000): the log would hold a day of writes in memory",
                    self.log_retention_ms
                ),
            );
        }
        if self.tombstone_grace_ms > 86_400_000 {
            return err(
                Some("tombstone_grace_ms"),
                format!(
                    "tombstone_grace_ms = {} is more than a day (86400000)",
                    self.tombstone_grace_ms
                ),
            );
        }
        if self.log_max_entries == 0 {
            return err(
                Some("log_max_entries"),
                "log_max_entries must be at least 1 (it bounds the own log a lagging peer holds back)"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut addresses = std::collections::HashMap::new();
        for (i, r) in self.regions.iter().enumerate() {
            let valid = !r.name.is_empty()
                && r.name.len() <= 64
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return region_err(
                    i,
                    "name",
                    format!(
                        "region name {:?} must be 1-64 letters, digits, '-' or '_'",
                        crate::error::truncate(&r.name)
                    ),
                );
            }
            if !seen.insert(&r.name) {
                return region_err(i, "name", format!("region {:?} is listed twice", r.name));
            }
            if r.listen.port() != 0
                && let Some(other) = addresses.insert(r.listen, &r.name)
            {
                return region_err(
                    i,
                    "listen",
                    format!(
                        "region {:?} listens on {}, as {other:?} does: every region needs its own address",
                        r.name, r.listen
                    ),
                );
            }
            if let Some(d) = r.dynamodb
                && d.port() != 0
                && let Some(other) = addresses.insert(d, &r.name)
            {
                return region_err(
                    i,
                    "dynamodb",
                    format!(
                        "region {:?} serves DynamoDB on {d}, which {other:?} uses already: every endpoint needs its own address",
                        r.name
                    ),
                );
            }
            if !(r.skew_ms.is_finite() && r.skew_ms.abs() <= 3_600_000.0) {
                return region_err(
                    i,
                    "skew_ms",
                    format!("region {:?}: skew_ms must be within ±1 hour", r.name),
                );
            }
        }
        let known = |n: &str| self.regions.iter().any(|r| r.name == n);
        if let Some(p) = &self.primary
            && !known(p)
        {
            return err(
                Some(p),
                format!("primary {p:?} is not a region of the cluster"),
            );
        }
        if let Err(m) = LinkSetting::from(self.default_link).validate() {
            return err(Some("[default_link]"), format!("default_link: {m}"));
        }
        for (i, l) in self.links.iter().enumerate() {
            let (a, b) = match l.ends() {
                Some((a, b, _)) => (a, b),
                None => {
                    return link_err(
                        i,
                        None,
                        format!(
                            "link #{}: give either between = [a, b] (two regions) or both from and to",
                            i + 1
                        ),
                    );
                }
            };
            let ends = if l.between.is_some() {
                "between"
            } else {
                "from"
            };
            for n in [a, b] {
                if !known(n) {
                    return link_err(
                        i,
                        Some(ends),
                        format!(
                            "link #{}: {:?} is not a region of the cluster",
                            i + 1,
                            crate::error::truncate(n)
                        ),
                    );
                }
            }
            if a == b {
                return link_err(
                    i,
                    Some(ends),
                    format!("link #{}: a link needs two different regions", i + 1),
                );
            }
            if let Err(m) = LinkSetting::from(l.spec).validate() {
                let field = ["latency_ms", "jitter_ms", "loss"]
                    .into_iter()
                    .find(|f| m.contains(f));
                return link_err(i, field, format!("link #{} ({a} -> {b}): {m}", i + 1));
            }
        }
        Ok(())
    }
}

impl ClusterConfig {
    /// Is the multi-Region consistency setting possible with these regions and this mode? `Err`
    /// names the region at fault (by index, for a `witness` line) and says why. Run on the
    /// file, and again after command-line overrides.
    pub fn check_multi_region(&self) -> Result<(), (Option<usize>, String)> {
        let strong = self.multi_region_consistency == super::Consistency::Strong;
        let witnesses: Vec<usize> = (0..self.regions.len())
            .filter(|i| self.regions[*i].witness)
            .collect();
        if let Some(&i) = witnesses.first()
            && !strong
        {
            return Err((
                Some(i),
                format!(
                    "region {:?} is a witness, which only multi_region_consistency = \"strong\" has",
                    self.regions[i].name
                ),
            ));
        }
        if let Some(&i) = witnesses.get(1) {
            return Err((
                Some(i),
                format!(
                    "regions {:?} and {:?} are both witnesses: at most one region is",
                    self.regions[witnesses[0]].name, self.regions[i].name
                ),
            ));
        }
        if !strong {
            return Ok(());
        }
        if self.mode != crate::replica::Mode::GlobalTables {
            return Err((
                None,
                format!(
                    "multi_region_consistency = \"strong\" is a Global Tables setting, but mode is {:?}",
                    self.mode.name()
                ),
            ));
        }
        if self.regions.len() != 3 {
            return Err((
                None,
                format!(
                    "multi_region_consistency = \"strong\" needs exactly three regions (three replicas, or two and a witness); this cluster has {}",
                    self.regions.len()
                ),
            ));
        }
        Ok(())
    }
}

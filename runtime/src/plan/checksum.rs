use sha2::{Digest, Sha256};

use super::Settings;

/// SHA-256 of a generated plan. Stable across compiler and zerodown versions as long as the plan is
/// the same; the algorithm is named (never `DefaultHasher`) because the value is stored in the history
/// table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// Lowercase hex, as stored in the history table.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl core::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Checksum({})", self.to_hex())
    }
}

impl core::fmt::Display for Checksum {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Incremental checksum of a plan. Every value is length- or tag-prefixed so that different plans
/// cannot produce the same byte stream.
#[derive(Debug, Clone, Default)]
pub struct PlanHasher {
    sha: Sha256,
}

impl PlanHasher {
    /// A hasher with a version tag, so a future change of the encoding changes every checksum visibly.
    pub fn new() -> Self {
        let mut h = PlanHasher { sha: Sha256::new() };
        h.str("zerodown-plan-v1");
        h
    }

    /// Hashes a string.
    pub fn str(&mut self, s: &str) {
        self.sha.update((s.len() as u64).to_le_bytes());
        self.sha.update(s.as_bytes());
    }

    /// Hashes a list of strings.
    pub fn strs(&mut self, items: &[&str]) {
        self.u64(items.len() as u64);
        for s in items {
            self.str(s);
        }
    }

    /// Hashes an integer.
    pub fn u64(&mut self, n: u64) {
        self.sha.update([0xA5]);
        self.sha.update(n.to_le_bytes());
    }

    /// Hashes a flag.
    pub fn bool(&mut self, b: bool) {
        self.sha.update([0x5A, b as u8]);
    }

    pub(crate) fn migration_header(&mut self, version: u64, name: &str, s: &Settings) {
        self.u64(version);
        self.str(name);
        self.u64(s.lock_timeout_ms);
        self.u64(s.statement_timeout_ms);
        self.u64(s.online_lock_timeout_ms);
        self.u64(s.long_statement_timeout_ms);
        self.u64(u64::from(s.retry_attempts));
        self.u64(s.retry_budget_ms);
        self.u64(s.backfill_batch_size);
        self.u64(s.backfill_pause_ms);
        self.u64(u64::from(s.target.0));
        // Hashed only when written, so plans written before these settings keep their checksums.
        s.pace().hash_into(self);
    }

    pub(crate) fn phase(&mut self, name: &str, steps: usize) {
        self.str(name);
        self.u64(steps as u64);
    }

    /// The digest.
    pub fn finish(self) -> super::Checksum {
        super::Checksum(self.sha.finalize().into())
    }
}

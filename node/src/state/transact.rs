//! Requests that read and write several keys under one hold of the replica's lock (the
//! DynamoDB endpoint's operations): a condition and the write it guards see the same state,
//! and a transaction's writes are made together. Each write is an ordinary write of this
//! region — logged, merged, replicated, in the conflict feed — and all of them are queued for
//! disk as one job; the request's reply waits until they are durable, and a read-only request
//! waits until what it read is.

use std::sync::Arc;

use meridian_core::{
    clock::now_us,
    replica::{Committed, Replica, WriteOp},
    store::Write,
};
use uuid::Uuid;

use super::NodeState;
use crate::{
    error::{Error, Result},
    storage::{Op, Persister},
};

/// The replica as one request sees it.
pub struct Writer<'a> {
    state: &'a NodeState,
    replica: &'a mut Replica,
    written: Vec<Arc<Write>>,
    now: u64,
}

impl Writer<'_> {
    /// The replica, for reads.
    pub fn replica(&self) -> &Replica {
        self.replica
    }

    /// Write `op` at `key` as a write of this region (the first write of a request checks the
    /// Aurora Global RPO bound).
    pub fn write(&mut self, key: &str, op: WriteOp) -> Result<Committed> {
        if self.state.strong.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "region {} runs multi-Region strong consistency: its writes go through the quorum, not a local transaction",
                self.state.region_name()
            )));
        }
        if self.written.is_empty() {
            self.state.check_rpo_bound(self.replica)?;
        }
        let c = self
            .replica
            .write(key, op, None, Uuid::new_v4(), self.now)?;
        self.written.push(c.write.clone());
        Ok(c)
    }
}

impl NodeState {
    /// Run `f` on the replica under its lock; make its writes durable (and offer them to the
    /// peers) before returning, or, when it wrote nothing, wait until what it read is durable.
    pub async fn transact<T>(&self, f: impl FnOnce(&mut Writer<'_>) -> T) -> Result<T> {
        if self.persister.as_ref().is_some_and(Persister::broken) {
            return Err(Error::Unavailable(
                "storage failed on this node; it refuses requests (see its log)".into(),
            ));
        }
        let (out, durable, last_seq, ticket) = {
            let mut replica = self.replica();
            let events = replica.feed().lost();
            let mut w = Writer {
                state: self,
                replica: &mut replica,
                written: Vec::new(),
                now: now_us(),
            };
            let out = f(&mut w);
            let written = std::mem::take(&mut w.written);
            let last_seq = written.last().map(|w| w.seq);
            let durable = if written.is_empty() {
                None
            } else {
                let mut keys: Vec<&str> = written.iter().map(|w| w.key()).collect();
                keys.sort_unstable();
                keys.dedup();
                let ops = written.iter().map(|w| Op::Log(w.clone())).collect();
                self.persist_keys(&replica, keys.into_iter(), events, ops, last_seq)
            };
            (out, durable, last_seq, self.durability_ticket())
        };
        match last_seq {
            Some(seq) => self.await_logged(durable, seq).await?,
            None => self.wait_durable(ticket).await?,
        }
        Ok(out)
    }
}

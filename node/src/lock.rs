//! Taking a lock whatever a panicking thread left behind. Every critical section of the node
//! leaves its data consistent at each step (counters, positions and stores are updated by
//! single assignments), so a poisoned lock holds valid data: a node keeps serving rather than
//! turning one panic into a failure of every later request.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A `Mutex` locked even when poisoned.
pub trait Unpoisoned<T> {
    /// The guard.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Unpoisoned<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An `RwLock` read- or write-locked even when poisoned.
pub trait UnpoisonedRw<T> {
    /// A read guard.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// A write guard.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> UnpoisonedRw<T> for RwLock<T> {
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|p| p.into_inner())
    }
}

//! [`Store`]: where the limiter keeps its state.

use super::{MemoryStore, RedisStore};

/// Where the limiter keeps each key's state: in this process, or in Redis (shared by every
/// process using it). Both convert into a `Store`.
#[derive(Debug, Clone)]
pub enum Store {
    /// See [`MemoryStore`].
    Memory(MemoryStore),
    /// See [`RedisStore`].
    Redis(RedisStore),
}

impl From<MemoryStore> for Store {
    fn from(store: MemoryStore) -> Self {
        Store::Memory(store)
    }
}

impl From<RedisStore> for Store {
    fn from(store: RedisStore) -> Self {
        Store::Redis(store)
    }
}

//! The RocksDB instance and its column families.
//!
//! One database holds both the Raft log and the state machine, so they share
//! one write-ahead log: a synced log write also makes every earlier state
//! machine write durable (which is what lets log purging trust the state
//! machine).

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DBRecoveryMode, Options, DB};

use crate::error::StoreError;

/// Column families.
pub const CF_LOG: &str = "log";
pub const CF_RAFT: &str = "raft";
pub const CF_RECORDS: &str = "records";
pub const CF_NAMESPACES: &str = "namespaces";
pub const CF_SM: &str = "sm";
/// Records ordered by when they may be forgotten (the HLC wall-clock hint of
/// their forget deadline), so the cleaner's cost follows the number of
/// expired records, not all records. Derived from `records`; rebuilt when a
/// snapshot is installed.
pub const CF_EXPIRY: &str = "expiry";

/// API key records (`key/<id>`) and the cluster's auth secret (`secret`).
pub const CF_AUTH: &str = "auth";
/// Namespace quotas, by namespace name.
pub const CF_QUOTAS: &str = "quotas";
pub const ALL_CFS: [&str; 8] = [
    CF_LOG,
    CF_RAFT,
    CF_RECORDS,
    CF_NAMESPACES,
    CF_SM,
    CF_EXPIRY,
    CF_AUTH,
    CF_QUOTAS,
];

/// Keys in `CF_AUTH`.
pub const KEY_AUTH_SECRET: &[u8] = b"secret";
pub const API_KEY_PREFIX: &[u8] = b"key/";

/// Where an API key's record is kept in `CF_AUTH`.
pub fn api_key_key(id: &idem_core::ApiKeyId) -> Vec<u8> {
    [API_KEY_PREFIX, id.as_str().as_bytes()].concat()
}

/// Keys in `CF_RAFT`.
pub const KEY_VOTE: &[u8] = b"vote";
pub const KEY_COMMITTED: &[u8] = b"committed";
pub const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// Keys in `CF_SM`.
pub const KEY_LAST_APPLIED: &[u8] = b"last_applied";
pub const KEY_MEMBERSHIP: &[u8] = b"membership";
pub const KEY_CLOCK: &[u8] = b"clock";
/// Present while a snapshot is being loaded; names the snapshot file.
pub const KEY_INSTALLING: &[u8] = b"installing";

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_paranoid_checks(true);
    // A torn final write (a crash mid-append, never acknowledged) is dropped;
    // corruption anywhere else stops the start-up with an error.
    opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts.increase_parallelism(2);
    // Bound memory: all memtables together stay under 32 MiB (a full one is
    // flushed), instead of up to 64 MiB per column family by default. The
    // log and records are written constantly, so this keeps RSS flat.
    opts.set_db_write_buffer_size(32 * 1024 * 1024);
    opts.set_write_buffer_size(8 * 1024 * 1024);
    opts.set_max_write_buffer_number(2);
    // RocksDB's own files that only grow otherwise: its info log (a few
    // lines per flush and per snapshot checkpoint, about 120 KiB a minute
    // under a steady load) rolls at 512 KiB with two old files kept, and the
    // manifest (one edit per flush and compaction) is rewritten at 8 MiB.
    opts.set_max_log_file_size(512 * 1024);
    opts.set_keep_log_file_num(3);
    opts.set_max_manifest_file_size(8 * 1024 * 1024);
    opts
}

/// Column family options: small memtables, and one block cache shared by all
/// column families that also holds index and filter blocks, so memory stays
/// bounded as the number of table files grows.
///
/// The records column family also gets a Bloom filter (10 bits per key, about
/// 1% false positives): every fresh reserve looks up a key that is not there,
/// on the leader and again in `apply` on every node, and without a filter
/// each such miss searches the index of every level.
///
/// Index and filter blocks are partitioned (4 KiB pieces under a small
/// top-level index, which stays pinned): a whole-file filter of a large table
/// is hundreds of KiB, bigger than a cache shard can keep, so it was read
/// from the file and checksummed again on every lookup. `scripts/growth.sh`
/// showed both: with no filter, and with whole-file filters, reserve
/// throughput fell to about a third of its rate at ten thousand keys by two
/// million, and a profile of a follower showed 85% of its CPU reading and
/// checksumming filter blocks.
fn cf_options(name: &str, cache: &rocksdb::Cache) -> Options {
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_metadata_block_size(4096);
    table.set_pin_top_level_index_and_filter(true);
    if name == CF_RECORDS {
        table.set_bloom_filter(10.0, false);
        table.set_partition_filters(true);
        table.set_optimize_filters_for_memory(true);
    }
    let mut opts = Options::default();
    if name == CF_RECORDS {
        opts.set_memtable_prefix_bloom_ratio(0.1);
        opts.set_memtable_whole_key_filtering(true);
    }
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_size(8 * 1024 * 1024);
    opts.set_max_write_buffer_number(2);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts
}

/// Block cache shared by the column families of one database. It holds the
/// index and filter blocks too, which at ten million records take about
/// 25 MiB; with a small live state (the soak) it stays far below the cap.
const BLOCK_CACHE_BYTES: usize = 64 * 1024 * 1024;

pub fn open(path: &Path) -> Result<Arc<DB>, StoreError> {
    // 16 shards of 4 MiB (the default would be 64 of 1 MiB): a block larger
    // than its shard is not kept.
    let mut cache_options = rocksdb::LruCacheOptions::default();
    cache_options.set_capacity(BLOCK_CACHE_BYTES);
    cache_options.set_num_shard_bits(4);
    let cache = rocksdb::Cache::new_lru_cache_opts(&cache_options);
    let cfs = ALL_CFS
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, &cache)));
    let db = DB::open_cf_descriptors(&db_options(), path, cfs)?;
    // Erase a table file's blocks from the block cache when compaction makes
    // the file obsolete. Records live for minutes, so table files turn over
    // all the time; without this their dead blocks stay cached until the LRU
    // pushes them out, and the cache fills to its 16 MiB cap (scripts/soak.sh:
    // 16 MiB cached with ~2 MiB of live tables, RSS rising for 8 minutes).
    // RocksDB calls the option experimental and expects ~300 to become its
    // default. The snapshot builder's checkpoint copy has its own cache, so
    // the caveat about copies sharing a cache does not apply. The rust
    // binding has no setter for it, hence by name.
    for name in ALL_CFS {
        db.set_options_cf(cf(&db, name)?, &[("uncache_aggressiveness", "300")])?;
    }
    Ok(Arc::new(db))
}

pub fn open_read_only(path: &Path) -> Result<DB, StoreError> {
    Ok(DB::open_cf_for_read_only(
        &db_options(),
        path,
        ALL_CFS,
        false,
    )?)
}

pub fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::corrupt("column family", format!("{name} is missing")))
}

pub fn synced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(true);
    w
}

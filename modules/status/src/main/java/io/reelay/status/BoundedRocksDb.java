package io.reelay.status;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.CompressionType;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * RocksDB of the status stores within one memory budget for the whole process, however many
 * partitions it holds: one block cache shared by every store (index and filter blocks in it too)
 * and memtables counted against it, as the Kafka Streams memory-management guide sets out. Without
 * it each store of each partition takes its own 50 MB cache and 48 MB of memtables. LZ4-compressed.
 *
 * <p>Half the budget is for memtables. Each store (two per partition) needs room for its 4 MiB
 * write buffer in that half: below it the shared write buffer manager flushes some memtable on
 * nearly every write (thousands of tiny files, compaction taking the cores, the stream thread
 * stalled; the {@code status-store} load test found it at 64 MiB for 24 stores). The default,
 * 256 MiB, fits 12 partitions with room to spare; give more when an instance holds more.
 */
public final class BoundedRocksDb implements RocksDBConfigSetter {

  /** The streams property giving the budget in bytes (block cache plus memtables). */
  static final String MEMORY = "reelay.rocksdb.memory.bytes";

  private static final long DEFAULT_MEMORY = 256L << 20;
  private static final long WRITE_BUFFER = 4L << 20;
  private static Cache cache;
  private static WriteBufferManager writeBuffers;

  @Override
  public void setConfig(String storeName, Options options, Map<String, Object> configs) {
    BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
    synchronized (BoundedRocksDb.class) {
      if (cache == null) {
        Object m = configs.get(MEMORY);
        long memory = m == null ? DEFAULT_MEMORY : Long.parseLong(m.toString());
        // half the budget for memtables, charged to the cache; index/filter blocks get priority
        cache = new LRUCache(memory, -1, false, 0.1);
        writeBuffers = new WriteBufferManager(memory / 2, cache);
      }
      table.setBlockCache(cache);
      options.setWriteBufferManager(writeBuffers);
    }
    table.setCacheIndexAndFilterBlocks(true);
    table.setCacheIndexAndFilterBlocksWithHighPriority(true);
    table.setPinTopLevelIndexAndFilter(true);
    options.setMaxWriteBufferNumber(2);
    options.setWriteBufferSize(WRITE_BUFFER);
    // the first arena block of each memtable counts against the manager at once: keep it small
    options.setArenaBlockSize(WRITE_BUFFER / 16);
    options.setCompressionType(CompressionType.LZ4_COMPRESSION);
    options.setTableFormatConfig(table);
  }

  @Override
  public void close(String storeName, Options options) {
    // the cache and the write buffer manager are shared by every store: never closed here
  }
}

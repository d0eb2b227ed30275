package io.reelay.worker;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where the latest snapshot of each session of the worker's partitions is on the compacted
 * sessions topic: per partition, a session key's 64-bit hash to the offset of its latest snapshot.
 * That is all a worker keeps of a session it passivated (about 25–50 bytes, against the kilobytes
 * of a live one), so the sessions a worker has seen do not fill its heap: a request for one is
 * answered after its snapshot is read back from that offset ({@link SnapshotStore#read}).
 *
 * <p>A hash may collide: whoever reads the offset checks the record's key, and scans the partition
 * when it is another session's. Filled when a partition is assigned (its sessions partition read to
 * the end), updated as Kafka acknowledges each snapshot this worker writes, dropped when the
 * partition goes. Thread-safe: written from the producer's and the consumer's threads, read by the
 * registry.
 */
final class SnapshotIndex {

  private final Map<Integer, Table> partitions = new ConcurrentHashMap<>();

  /** The partition's index is {@code table} from now on (it was just read from the topic). */
  void replace(int partition, Table table) {
    partitions.put(partition, table);
  }

  /** The partition is no longer this worker's: nothing of it is kept. */
  void drop(int partition) {
    partitions.remove(partition);
  }

  /**
   * Kafka took a snapshot of {@code key} at {@code offset}. Ignored for a partition not indexed
   * here (an acknowledgement that came after the partition was handed over), and when a later
   * snapshot of the key is indexed already.
   */
  void written(int partition, String key, long offset) {
    Table t = partitions.get(partition);
    if (t != null) {
      t.put(hash(key), offset);
    }
  }

  /** The offset of the latest snapshot of {@code key} on {@code partition} (of its hash: check the key), or -1. */
  long offset(int partition, String key) {
    Table t = partitions.get(partition);
    return t == null ? -1 : t.get(hash(key));
  }

  /** Sessions indexed, over all partitions. */
  long size() {
    return partitions.values().stream().mapToLong(Table::size).sum();
  }

  /** A session key's 64-bit hash (FNV-1a over its chars, then MurmurHash3's finalizer); never 0. */
  static long hash(String key) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < key.length(); i++) {
      h ^= key.charAt(i);
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h == 0 ? 1 : h;
  }

  /** One partition's index: an open-addressing table (linear probing) of hash to offset, two longs a slot. */
  static final class Table {

    private long[] keys = new long[16]; // 0: an empty slot
    private long[] offsets = new long[16];
    private int size;

    /** {@code hash} is at {@code offset} now, unless a later offset is recorded for it. */
    synchronized void put(long hash, long offset) {
      int i = find(hash);
      if (keys[i] == hash) {
        offsets[i] = Math.max(offsets[i], offset);
        return;
      }
      keys[i] = hash;
      offsets[i] = offset;
      if (++size * 4 > keys.length * 3) {
        grow();
      }
    }

    synchronized long get(long hash) {
      int i = find(hash);
      return keys[i] == hash ? offsets[i] : -1;
    }

    /** A tombstone: the session was forgotten. */
    synchronized void remove(long hash) {
      int i = find(hash);
      if (keys[i] != hash) {
        return;
      }
      // backward-shift deletion: move up every later entry of the run that the gap would hide
      int mask = keys.length - 1;
      int gap = i;
      for (int j = (i + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
        int home = slot(keys[j], mask);
        if (((j - home) & mask) >= ((j - gap) & mask)) {
          keys[gap] = keys[j];
          offsets[gap] = offsets[j];
          gap = j;
        }
      }
      keys[gap] = 0;
      size--;
    }

    synchronized int size() {
      return size;
    }

    private int find(long hash) {
      int mask = keys.length - 1;
      int i = slot(hash, mask);
      while (keys[i] != 0 && keys[i] != hash) {
        i = (i + 1) & mask;
      }
      return i;
    }

    private static int slot(long hash, int mask) {
      return (int) (hash ^ (hash >>> 32)) & mask;
    }

    private void grow() {
      long[] oldKeys = keys;
      long[] oldOffsets = offsets;
      keys = new long[oldKeys.length * 2];
      offsets = new long[oldKeys.length * 2];
      for (int i = 0; i < oldKeys.length; i++) {
        if (oldKeys[i] != 0) {
          int j = find(oldKeys[i]);
          keys[j] = oldKeys[i];
          offsets[j] = oldOffsets[i];
        }
      }
    }
  }
}

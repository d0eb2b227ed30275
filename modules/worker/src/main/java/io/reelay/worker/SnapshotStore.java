package io.reelay.worker;

import io.reelay.protocol.Json;
import io.reelay.protocol.JsonProblems;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions topic as the store of what sessions remember. When a partition is assigned, its
 * sessions partition is read to the end into the {@link SnapshotIndex} (where each session's
 * latest snapshot is, not the snapshot), with where the requests partition ended at that moment.
 * A session's snapshot is read back from its offset when a request for it arrives and it is not
 * live here ({@link #read}): a worker's heap holds the sessions in hand, not every one it has seen.
 *
 * <p>Two consumers, neither in a group: one the assignment callback blocks on, one behind a
 * single thread for the reads on demand.
 */
final class SnapshotStore implements SessionSnapshots, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SnapshotStore.class);

  /** What a partition's new owner starts from: how many sessions have a snapshot, and the requests partition's end. */
  record Indexed(int partition, int sessions, long requestsEnd) {}

  private final KafkaConsumer<String, byte[]> indexer;
  private final KafkaConsumer<String, byte[]> reader;
  private final ExecutorService reads = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "reelay-snapshot-reader");
    t.setDaemon(true);
    return t;
  });
  private final Topics topics;
  private final SnapshotIndex index;
  private final Duration timeout;

  /** @param timeout how long one read of a partition may take (the hand-over timeout) */
  SnapshotStore(String bootstrap, Topics topics, SnapshotIndex index, Duration timeout) {
    this.indexer = consumer(bootstrap, "reelay-snapshot-indexer");
    this.reader = consumer(bootstrap, "reelay-snapshot-reader");
    this.topics = topics;
    this.index = index;
    this.timeout = timeout;
  }

  private static KafkaConsumer<String, byte[]> consumer(String bootstrap, String clientId) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
    return new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
  }

  /** Indexes the latest snapshot per session key ({@link EventPublisher#snapshotKey}) of {@code partition}. Blocking. */
  synchronized Indexed load(int partition) {
    TopicPartition sessions = new TopicPartition(topics.sessions(), partition);
    TopicPartition requests = new TopicPartition(topics.requests(), partition);
    Map<TopicPartition, Long> ends = indexer.endOffsets(List.of(sessions, requests), timeout);
    long end = ends.get(sessions);
    SnapshotIndex.Table table = new SnapshotIndex.Table();
    readToEnd(indexer, sessions, end, r -> {
      if (r.value() == null) {
        table.remove(SnapshotIndex.hash(r.key())); // a tombstone: the session was forgotten
      } else {
        table.put(SnapshotIndex.hash(r.key()), r.offset());
      }
    });
    index.replace(partition, table);
    return new Indexed(partition, table.size(), ends.get(requests));
  }

  /** The partitions went to another worker: nothing of them is kept. */
  void forget(Iterable<Integer> partitions) {
    partitions.forEach(index::drop);
  }

  @Override
  public boolean has(int partition, String key) {
    return index.offset(partition, key) >= 0;
  }

  /**
   * The latest snapshot of {@code key} on {@code partition}: the record at its indexed offset, or,
   * when that record is another key's (a hash collision) or gone, the latest of the key found by
   * reading the partition through. Empty when there is none, or it cannot be read (a warning says
   * why; the session then starts afresh, as with no snapshot). Fails when Kafka does not answer in time.
   */
  @Override
  public CompletionStage<Optional<SessionSnapshot>> read(int partition, String key) {
    try {
      return CompletableFuture.supplyAsync(() -> readNow(partition, key), reads);
    } catch (RejectedExecutionException closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the snapshot store is closed", closed));
    }
  }

  private Optional<SessionSnapshot> readNow(int partition, String key) {
    long offset = index.offset(partition, key);
    if (offset < 0) {
      return Optional.empty();
    }
    TopicPartition tp = new TopicPartition(topics.sessions(), partition);
    reader.assign(List.of(tp));
    reader.seek(tp, offset);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      List<ConsumerRecord<String, byte[]>> got = reader.poll(Duration.ofMillis(100)).records(tp);
      if (got.isEmpty()) {
        continue;
      }
      ConsumerRecord<String, byte[]> r = got.get(0);
      if (r.offset() == offset && key.equals(r.key())) {
        return parse(r);
      }
      return scan(tp, key);
    }
    throw new IllegalStateException("reading the snapshot at " + tp + "@" + offset + " took longer than " + timeout);
  }

  /** The latest snapshot of {@code key} on {@code tp}, read from its start to its end. */
  private Optional<SessionSnapshot> scan(TopicPartition tp, String key) {
    log.info("the snapshot of {} is not at its indexed offset (two keys share a hash); reading {} through", key, tp);
    long end = reader.endOffsets(List.of(tp), timeout).get(tp);
    AtomicReference<ConsumerRecord<String, byte[]>> latest = new AtomicReference<>();
    readToEnd(reader, tp, end, r -> {
      if (key.equals(r.key())) {
        latest.set(r);
      }
    });
    return latest.get() == null ? Optional.empty() : parse(latest.get());
  }

  private static Optional<SessionSnapshot> parse(ConsumerRecord<String, byte[]> r) {
    if (r.value() == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(Json.read(r.value(), SessionSnapshot.class));
    } catch (RuntimeException e) {
      log.warn("unreadable snapshot at {}-{}@{}: the session starts afresh: {}", r.topic(), r.partition(), r.offset(),
          JsonProblems.describe(e));
      return Optional.empty();
    }
  }

  private void readToEnd(KafkaConsumer<String, byte[]> consumer, TopicPartition tp, long end,
      Consumer<ConsumerRecord<String, byte[]>> each) {
    consumer.assign(List.of(tp));
    consumer.seekToBeginning(List.of(tp));
    long deadline = System.nanoTime() + timeout.toNanos();
    while (consumer.position(tp, timeout) < end) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("reading " + tp + " to offset " + end + " took longer than " + timeout);
      }
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
        each.accept(r);
      }
    }
    consumer.unsubscribe();
  }

  @Override
  public void close() {
    try {
      reads.execute(() -> reader.close(Duration.ofSeconds(2))); // on its thread, after the reads in hand
    } catch (RejectedExecutionException e) {
      // closed already
    }
    reads.shutdown();
    synchronized (this) {
      indexer.close(Duration.ofSeconds(2));
    }
  }
}

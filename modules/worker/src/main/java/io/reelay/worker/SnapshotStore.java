package io.reelay.worker;

import io.reelay.protocol.Json;
import io.reelay.protocol.JsonProblems;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads what a previous owner left for a partition: the latest snapshot of each session on the
 * compacted sessions partition (read to its end), and where the requests partition ended at that
 * moment. Blocking; called from the partition-assignment callback, one partition at a time.
 */
final class SnapshotStore implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SnapshotStore.class);

  /** What a partition's new owner starts from. */
  record Restored(int partition, Map<String, SessionSnapshot> sessions, long requestsEnd) {}

  private final KafkaConsumer<String, byte[]> consumer;
  private final Topics topics;

  SnapshotStore(String bootstrap, Topics topics) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "reelay-snapshot-reader");
    this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    this.topics = topics;
  }

  /** The latest snapshot per session key ({@link EventPublisher#snapshotKey}) of {@code partition}. */
  synchronized Restored load(int partition, Duration timeout) {
    TopicPartition sessions = new TopicPartition(topics.sessions(), partition);
    TopicPartition requests = new TopicPartition(topics.requests(), partition);
    Map<TopicPartition, Long> ends = consumer.endOffsets(List.of(sessions, requests), timeout);
    long end = ends.get(sessions);
    consumer.assign(List.of(sessions));
    consumer.seekToBeginning(List.of(sessions));
    Map<String, SessionSnapshot> latest = new HashMap<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (consumer.position(sessions, timeout) < end) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("reading " + sessions + " to offset " + end + " took longer than " + timeout);
      }
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
        if (r.value() == null) {
          latest.remove(r.key()); // a tombstone: the session was forgotten
          continue;
        }
        try {
          latest.put(r.key(), Json.read(r.value(), SessionSnapshot.class));
        } catch (RuntimeException e) {
          log.warn("unreadable snapshot at {}@{} skipped: {}", sessions, r.offset(), JsonProblems.describe(e));
        }
      }
    }
    consumer.unsubscribe();
    return new Restored(partition, latest, ends.get(requests));
  }

  @Override
  public synchronized void close() {
    consumer.close(Duration.ofSeconds(2));
  }
}

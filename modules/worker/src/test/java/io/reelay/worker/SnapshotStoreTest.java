package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.kafka.TestKafka;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Snapshots written, indexed on assignment, and read back from the real broker, also when two keys share a slot of the index. */
class SnapshotStoreTest {

  @Test
  void aSnapshotIsReadBackFromItsOffsetAndFoundByAScanWhenTheIndexPointsElsewhere() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("snap"));
    TopicSetup.ensure(TestKafka.bootstrapServers(), topics, 2, (short) 1);
    EventPublisher events = new EventPublisher(TestKafka.bootstrapServers(), topics, Map.of());
    try (events; SnapshotStore store = new SnapshotStore(TestKafka.bootstrapServers(), topics, events.snapshotIndex(),
        Duration.ofSeconds(20))) {
      events.snapshot(snapshot("a", "anon_old"), 1).toCompletableFuture().get(30, TimeUnit.SECONDS);
      events.snapshot(snapshot("b", "anon_b"), 1).toCompletableFuture().get(30, TimeUnit.SECONDS);
      events.snapshot(snapshot("a", "anon_a"), 1).toCompletableFuture().get(30, TimeUnit.SECONDS);

      SnapshotStore.Indexed indexed = store.load(1);
      assertThat(indexed.sessions()).isEqualTo(2);
      assertThat(store.has(1, "default/a")).isTrue();
      assertThat(store.has(0, "default/a")).as("another partition").isFalse();
      assertThat(read(store, "default/a")).map(SessionSnapshot::userId).contains("anon_a");

      // written after the assignment: indexed as Kafka acknowledges it
      events.snapshot(snapshot("c", "anon_c"), 1).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertThat(read(store, "default/c")).map(SessionSnapshot::userId).contains("anon_c");

      // the index says "a" is where "b" is (as when two keys' hashes collide): the record's key tells, the scan finds it
      long offsetOfB = events.snapshotIndex().offset(1, "default/b");
      SnapshotIndex.Table wrong = new SnapshotIndex.Table();
      wrong.put(SnapshotIndex.hash("default/a"), offsetOfB);
      events.snapshotIndex().replace(1, wrong);
      assertThat(read(store, "default/a")).map(SessionSnapshot::userId).contains("anon_a");
      assertThat(read(store, "default/z")).as("no snapshot at all").isEmpty();

      store.forget(List.of(1));
      assertThat(store.has(1, "default/a")).isFalse();
    }
  }

  private static Optional<SessionSnapshot> read(SnapshotStore store, String key) throws Exception {
    return store.read(1, key).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static SessionSnapshot snapshot(String session, String userId) {
    return new SessionSnapshot(SessionSnapshot.VERSION, session, "default", "client-" + session, userId, null, null, "en", null,
        null, null, List.of("r-" + session), 3L, null, Instant.now());
  }
}

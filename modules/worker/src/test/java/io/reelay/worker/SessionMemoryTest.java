package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.SessionSnapshot.InFlight;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a session remembers, and what a new owner reads back from the sessions topic (a real broker). */
class SessionMemoryTest {

  private static Topics topics;
  private static EventPublisher out;

  @BeforeAll
  static void start() {
    topics = Topics.withPrefix(TestKafka.uniqueName("memory"));
    TopicSetup.ensure(TestKafka.bootstrapServers(), topics, 2, (short) 1);
    out = new EventPublisher(TestKafka.bootstrapServers(), topics, Map.of());
  }

  @AfterAll
  static void stop() {
    out.close();
  }

  private static final SessionMemory.Identity WHO = new SessionMemory.Identity("c-1", "anon_1", "sess_1", "task_1", "en", "enc", null);

  private static Event terminal(String requestId) {
    return new Event(Event.VERSION, requestId, "s", "default", 3, Instant.now(), RequestState.COMPLETED, Phase.DONE, "done", 1.0,
        null, null);
  }

  private static void await(CompletionStage<Void> written) throws Exception {
    written.toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  @Test
  void finishedRequestsAreRememberedUpToOneCapAndOlderOnesByDoneThrough() throws Exception {
    SessionMemory memory = new SessionMemory("cap", "default", null, 1, out);
    CompletionStage<Void> last = CompletableFuture.completedFuture(null);
    for (int i = 0; i < SessionMemory.REMEMBERED + 10; i++) {
      last = memory.finished(WHO, "r-" + i, 100 + i, terminal("r-" + i));
    }
    await(last);
    assertThat(memory.remembers("r-0")).isFalse();
    assertThat(memory.remembers("r-9")).isFalse();
    assertThat(memory.remembers("r-10")).isTrue();
    assertThat(memory.remembers("r-" + (SessionMemory.REMEMBERED + 9))).isTrue();
    assertThat(memory.doneThrough()).isEqualTo(100 + SessionMemory.REMEMBERED + 9); // the forgotten ones are below it
    SessionSnapshot read = latest("default/cap", 1);
    assertThat(read.recentRequestIds()).hasSize(SessionMemory.REMEMBERED).startsWith("r-10");
    assertThat(read).isEqualTo(memory.last());
  }

  @Test
  void aTerminalEventIsPendingUntilKafkaTookItAndIsHandedOutOnce() throws Exception {
    SessionMemory memory = new SessionMemory("pend", "default", null, 0, out);
    await(memory.write(WHO, new InFlight("a", Phase.GENERATING, null, "fp", 101)));
    await(memory.finished(WHO, "a", 7, terminal("a")));
    assertThat(memory.last().pendingTerminal().requestId()).isEqualTo("a");
    assertThat(memory.last().inFlight()).isNull();
    assertThat(latest("default/pend", 0).pendingTerminal().requestId()).isEqualTo("a");

    await(memory.terminalPublished("b")); // another request's: nothing changes
    assertThat(memory.last().pendingTerminal()).isNotNull();
    await(memory.terminalPublished("a"));
    assertThat(memory.last().pendingTerminal()).isNull();
    assertThat(latest("default/pend", 0).pendingTerminal()).isNull();
    assertThat(latest("default/pend", 0).recentRequestIds()).containsExactly("a");

    SessionMemory restored = new SessionMemory("pend2", "default", null, 0, out);
    await(restored.finished(WHO, "x", 3, terminal("x")));
    assertThat(restored.takePendingTerminal("y")).isNull();
    assertThat(restored.takePendingTerminal("x").requestId()).isEqualTo("x");
    assertThat(restored.takePendingTerminal("x")).isNull();
  }

  @Test
  void aRequestEndedWithoutTheActorIsRememberedAndLeavesTheInFlightSlot() throws Exception {
    SessionMemory fresh = new SessionMemory("new", "default", null, 0, out);
    await(fresh.remember("c-1", null, null)); // never written: kept, not written on its own
    assertThat(fresh.remembers("c-1")).isTrue();
    assertThat(latest("default/new", 0)).isNull();

    SessionMemory memory = new SessionMemory("busy", "default", null, 0, out);
    await(memory.write(WHO, new InFlight("q", Phase.QUEUED, null, null, 101)));
    await(memory.remember("other", null, null));
    assertThat(latest("default/busy", 0).inFlight().requestId()).isEqualTo("q"); // another request's end keeps it
    await(memory.remember("q", null, null));
    SessionSnapshot read = latest("default/busy", 0);
    assertThat(read.inFlight()).isNull();
    assertThat(read.recentRequestIds()).containsExactly("other", "q");
    assertThat(read.userId()).isEqualTo("anon_1"); // the identity stays
  }

  @Test
  void writersOnTwoThreadsLeaveTheTopicEndingWithTheLastSnapshot() throws Exception {
    SessionMemory memory = new SessionMemory("race", "default", null, 1, out);
    await(memory.write(WHO, null));
    Thread registry = new Thread(() -> {
      for (int i = 0; i < 200; i++) {
        memory.remember("g-" + i, null, null);
      }
    });
    registry.start();
    CompletionStage<Void> last = null;
    for (int i = 0; i < 200; i++) {
      last = memory.finished(WHO, "f-" + i, i, terminal("f-" + i));
    }
    registry.join();
    await(last);
    await(memory.remember("end", null, null));
    assertThat(latest("default/race", 1)).isEqualTo(memory.last());
    assertThat(memory.last().recentRequestIds()).contains("end"); // which of the others are still among the last 50 depends on the interleaving
  }

  /** The last snapshot of {@code key} on sessions partition {@code partition} (null if none). */
  private static SessionSnapshot latest(String key, int partition) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topics.sessions(), partition);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      List<ConsumerRecord<String, byte[]>> all = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (c.position(tp) < end && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(all::add);
      }
      SessionSnapshot last = null;
      for (ConsumerRecord<String, byte[]> r : all) {
        if (key.equals(r.key())) {
          last = Json.read(r.value(), SessionSnapshot.class);
        }
      }
      return last;
    }
  }
}

package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

/**
 * A terminal event Kafka does not take is sent again until it does, and only then reported sent
 * (a real broker; the topics do not exist at first, so every send fails until they are created).
 */
class RequestEventsTest {

  private static final Duration BOUND = Duration.ofSeconds(30);

  private static EventPublisher publisherOfMissingTopics(Topics topics) {
    // metadata for a topic that does not exist (auto-creation is off) is waited for this long, then the send fails
    return new EventPublisher(TestKafka.bootstrapServers(), topics, Map.of("max.block.ms", "200"));
  }

  private static Request cancel(String id) {
    return new Request(Request.VERSION, id, "s", null, "cancel", Action.CANCEL, null, null, null, "r-0", null, null);
  }

  @Test
  void aTerminalEventIsSentAgainUntilKafkaTakesItAndReportedSentOnlyThen() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("late"));
    try (EventPublisher out = publisherOfMissingTopics(topics)) {
      AtomicInteger tries = new AtomicInteger();
      RequestEvents events = new RequestEvents(out);
      CompletionStage<Void> sent = events.notCancellable(cancel("c-1"), "already finished");
      CompletionStage<Void> counted = out.untilTaken("probe", () -> {
        tries.incrementAndGet();
        return out.publish(new Event(Event.VERSION, "p-1", "s", "default", 1, Instant.now(), RequestState.RUNNING,
            null, "probe", null, null, null));
      });
      await().atMost(BOUND).until(() -> tries.get() >= 2); // failed, and tried again
      assertThat(sent.toCompletableFuture()).isNotDone();
      assertThat(events.pendingTerminals()).isEqualTo(1);

      TopicSetup.ensure(TestKafka.bootstrapServers(), topics, 1, (short) 1);
      sent.toCompletableFuture().get(BOUND.toSeconds(), TimeUnit.SECONDS);
      counted.toCompletableFuture().get(BOUND.toSeconds(), TimeUnit.SECONDS);
      assertThat(events.pendingTerminals()).isZero();
      List<Event> terminal = read(topics.events()).stream().filter(e -> e.requestId().equals("c-1")).toList();
      assertThat(terminal).isNotEmpty().allMatch(e -> e.state() == RequestState.FAILED && e.seq() == 1); // repeats are the same event
      assertThat(read(topics.completions())).extracting(Event::requestId).contains("c-1");
    }
  }

  @Test
  void aTerminalEventNotTakenWhenTheWorkerStopsIsReportedNotSent() {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("stopping"));
    EventPublisher out = publisherOfMissingTopics(topics);
    RequestEvents events = new RequestEvents(out);
    CompletionStage<Void> sent = events.notCancellable(cancel("c-2"), "already finished");
    out.close();
    await().atMost(BOUND).until(() -> sent.toCompletableFuture().isDone());
    assertThat(sent.toCompletableFuture()).isCompletedExceptionally();
  }

  private static List<Event> read(String topic) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    List<Event> all = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      long deadline = System.nanoTime() + BOUND.toNanos();
      while (c.position(tp) < end && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(r -> all.add(Json.read(r.value(), Event.class)));
      }
    }
    return all;
  }
}

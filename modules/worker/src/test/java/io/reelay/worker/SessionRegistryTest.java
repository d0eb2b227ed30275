package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The registry's promises with an injected session behavior: one request at a time per session,
 * and a crash loses nothing that was waiting — the request that crashed ends FAILED (continuing its
 * seq), the next one runs on the restarted session.
 */
class SessionRegistryTest {

  private static final ActorTestKit kit = ActorTestKit.create();
  private static Topics topics;
  private static EventPublisher events;

  @BeforeAll
  static void start() {
    topics = Topics.withPrefix(TestKafka.uniqueName("reg"));
    TopicSetup.ensure(TestKafka.bootstrapServers(), topics, 1, (short) 1);
    events = new EventPublisher(TestKafka.bootstrapServers(), topics, Map.of());
  }

  @AfterAll
  static void stop() {
    events.close();
    kit.shutdownTestKit();
  }

  /** A session that completes requests at once, and throws on a request whose text is "crash". */
  private static Behavior<SessionActor.Command> fakeSession(String session, ActorRef<SessionRegistry.Command> registry) {
    return Behaviors.setup(ctx -> {
      registry.tell(new SessionRegistry.Started(session));
      return Behaviors.receiveMessage(m -> {
        SessionActor.Handle h = (SessionActor.Handle) m;
        Request r = h.request();
        events.publish(event(r, 2, RequestState.RUNNING)).toCompletableFuture().get();
        if ("crash".equals(r.text())) {
          throw new IllegalStateException("simulated bug");
        }
        events.publish(event(r, 3, RequestState.COMPLETED)).toCompletableFuture().get();
        h.replyTo().tell(Done.getInstance());
        registry.tell(new SessionRegistry.Finished(session, r.requestId()));
        return Behaviors.same();
      });
    });
  }

  private static Event event(Request r, long seq, RequestState state) {
    return new Event(1, r.requestId(), r.sessionKey(), "default", seq, Instant.now(), state, Phase.GENERATING, "x", null, null, null);
  }

  @Test
  void aCrashFailsOnlyTheRunningRequestAndTheQueueCarriesOn() {
    ActorRef<SessionRegistry.Command> registry =
        kit.spawn(SessionRegistry.create(events, (session, first, reg) -> fakeSession(session, reg)));
    TestProbe<Done> a = kit.createTestProbe();
    TestProbe<Done> b = kit.createTestProbe();
    TestProbe<Done> c = kit.createTestProbe();
    registry.tell(new SessionRegistry.Submit(Request.of("a", "s1", "fine", null), a.getRef()));
    registry.tell(new SessionRegistry.Submit(Request.of("b", "s1", "crash", null), b.getRef()));
    registry.tell(new SessionRegistry.Submit(Request.of("c", "s1", "fine again", null), c.getRef()));
    a.expectMessage(Done.getInstance());
    b.expectMessage(java.time.Duration.ofSeconds(10), Done.getInstance());
    c.expectMessage(java.time.Duration.ofSeconds(10), Done.getInstance());

    Map<String, List<Event>> byRequest = read(9);
    assertThat(byRequest.get("a")).extracting(Event::state)
        .containsExactly(RequestState.QUEUED, RequestState.RUNNING, RequestState.COMPLETED);
    assertThat(byRequest.get("b")).extracting(Event::seq).containsExactly(1L, 2L, 3L);
    Event crashed = byRequest.get("b").get(2);
    assertThat(crashed.state()).isEqualTo(RequestState.FAILED);
    assertThat(crashed.error().code()).isEqualTo("SESSION_CRASHED");
    assertThat(byRequest.get("c").get(2).state()).isEqualTo(RequestState.COMPLETED);
  }

  @Test
  void aRequestDeliveredAgainRunsOnce() {
    ActorRef<SessionRegistry.Command> registry =
        kit.spawn(SessionRegistry.create(events, (session, first, reg) -> fakeSession(session, reg)));
    TestProbe<Done> probe = kit.createTestProbe();
    for (int i = 0; i < 3; i++) {
      registry.tell(new SessionRegistry.Submit(Request.of("dup", "s2", "once", null), probe.getRef()));
    }
    registry.tell(new SessionRegistry.Submit(Request.of("after", "s2", "next", null), probe.getRef()));
    probe.receiveSeveralMessages(4);
    Map<String, List<Event>> byRequest = read(12);
    assertThat(byRequest.get("dup")).extracting(Event::state)
        .containsExactly(RequestState.QUEUED, RequestState.RUNNING, RequestState.COMPLETED);
    assertThat(byRequest.get("after")).hasSize(3);
  }

  private static Map<String, List<Event>> read(int atLeast) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("reader"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    List<Event> all = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topics.events()));
      long deadline = System.nanoTime() + 30_000_000_000L;
      int quietPolls = 0;
      // everything was published before the probes heard Done: read until the topic goes quiet
      while (System.nanoTime() < deadline && (all.size() < atLeast || quietPolls < 3)) {
        int before = all.size();
        consumer.poll(java.time.Duration.ofMillis(300)).forEach(r -> all.add(Json.read(r.value(), Event.class)));
        quietPolls = all.size() == before ? quietPolls + 1 : 0;
      }
    }
    Map<String, List<Event>> by = new HashMap<>();
    all.forEach(e -> by.computeIfAbsent(e.requestId(), k -> new ArrayList<>()).add(e));
    return by;
  }
}

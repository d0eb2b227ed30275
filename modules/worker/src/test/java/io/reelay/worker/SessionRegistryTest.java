package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
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
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
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

  private static final java.util.Set<String> crashedOnce = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A session that completes requests at once; it throws on a request whose text is "crash", and on
   * the first attempt of one whose text is "crash once". Its events start at the seq it is handed.
   */
  private static Behavior<SessionActor.Command> fakeSession(String session, ActorRef<SessionRegistry.Command> registry) {
    return fakeSession(session, registry, null);
  }

  /** The same, telling {@code lifecycle} (when given) when it stops. */
  private static Behavior<SessionActor.Command> fakeSession(
      String session, ActorRef<SessionRegistry.Command> registry, ActorRef<String> lifecycle) {
    return Behaviors.setup(ctx -> {
      registry.tell(new SessionRegistry.Started(session));
      return Behaviors.receive(SessionActor.Command.class)
          .onMessage(SessionActor.Handle.class, h -> {
            Request r = h.request();
            events.publish(event(r, h.firstSeq(), RequestState.RUNNING, h.resume() ? "resumed" : "started")).toCompletableFuture().get();
            if ("crash".equals(r.text()) || ("crash once".equals(r.text()) && crashedOnce.add(r.requestId()))) {
              throw new IllegalStateException("simulated bug");
            }
            events.publish(event(r, h.firstSeq() + 1, RequestState.COMPLETED, "done")).toCompletableFuture().get();
            registry.tell(new SessionRegistry.Finished(session, r.requestId()));
            return Behaviors.same();
          })
          .onSignal(org.apache.pekko.actor.typed.PostStop.class, sig -> {
            if (lifecycle != null) {
              lifecycle.tell("stopped");
            }
            return Behaviors.same();
          })
          .build();
    });
  }

  private static Event event(Request r, long seq, RequestState state, String message) {
    return new Event(1, r.requestId(), r.sessionKey(), "default", seq, Instant.now(), state, Phase.GENERATING, message, null, null, null);
  }

  @Test
  void aCrashedSessionResumesItsRequestAfterTheRestartAndTheQueueCarriesOn() {
    ActorRef<SessionRegistry.Command> registry =
        kit.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5), java.time.Duration.ofMinutes(5), (session, first, memory, reg) -> fakeSession(session, reg)));
    TestProbe<SessionRegistry.Outcome> a = kit.createTestProbe();
    TestProbe<SessionRegistry.Outcome> b = kit.createTestProbe();
    TestProbe<SessionRegistry.Outcome> c = kit.createTestProbe();
    registry.tell(new SessionRegistry.Submit(Request.of("a1", "s1", "fine", null), a.getRef()));
    registry.tell(new SessionRegistry.Submit(Request.of("b1", "s1", "crash once", null), b.getRef()));
    registry.tell(new SessionRegistry.Submit(Request.of("c1", "s1", "fine again", null), c.getRef()));
    a.expectMessage(SessionRegistry.Outcome.FINISHED);
    b.expectMessage(java.time.Duration.ofSeconds(10), SessionRegistry.Outcome.FINISHED);
    c.expectMessage(java.time.Duration.ofSeconds(10), SessionRegistry.Outcome.FINISHED);

    Map<String, List<Event>> byRequest = read(9, "a1", "b1", "c1");
    assertThat(byRequest.get("a1")).extracting(Event::state)
        .containsExactly(RequestState.QUEUED, RequestState.RUNNING, RequestState.COMPLETED);
    // the restarted session was handed the same request to resume, with its seq continuing
    assertThat(byRequest.get("b1")).extracting(Event::state).first().isEqualTo(RequestState.QUEUED);
    assertThat(byRequest.get("b1")).extracting(Event::message).endsWith("started", "resumed", "done");
    assertThat(byRequest.get("b1")).extracting(Event::seq).containsExactly(1L, 2L, 3L, 4L);
    assertThat(byRequest.get("c1")).extracting(Event::state).last().isEqualTo(RequestState.COMPLETED);
  }

  @Test
  void aSessionThatKeepsCrashingFailsOnlyThatRequestAndTheQueueCarriesOn() {
    ActorRef<SessionRegistry.Command> registry =
        kit.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5), java.time.Duration.ofMinutes(5), (session, first, memory, reg) -> fakeSession(session, reg)));
    TestProbe<SessionRegistry.Outcome> b = kit.createTestProbe();
    TestProbe<SessionRegistry.Outcome> c = kit.createTestProbe();
    registry.tell(new SessionRegistry.Submit(Request.of("b2", "s3", "crash", null), b.getRef()));
    registry.tell(new SessionRegistry.Submit(Request.of("c2", "s3", "fine", null), c.getRef()));
    b.expectMessage(java.time.Duration.ofSeconds(20), SessionRegistry.Outcome.FINISHED);
    c.expectMessage(java.time.Duration.ofSeconds(10), SessionRegistry.Outcome.FINISHED);

    Map<String, List<Event>> byRequest = read(8, "b2", "c2");
    Event crashed = byRequest.get("b2").get(byRequest.get("b2").size() - 1);
    assertThat(crashed.state()).isEqualTo(RequestState.FAILED);
    assertThat(crashed.error().code()).isEqualTo("SESSION_CRASHED");
    assertThat(crashed.seq()).isGreaterThan(byRequest.get("b2").get(byRequest.get("b2").size() - 2).seq());
    assertThat(byRequest.get("c2")).extracting(Event::state).last().isEqualTo(RequestState.COMPLETED);
  }

  @Test
  void aRequestDeliveredAgainRunsOnce() {
    ActorRef<SessionRegistry.Command> registry =
        kit.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5), java.time.Duration.ofMinutes(5), (session, first, memory, reg) -> fakeSession(session, reg)));
    TestProbe<SessionRegistry.Outcome> probe = kit.createTestProbe();
    for (int i = 0; i < 3; i++) {
      registry.tell(new SessionRegistry.Submit(Request.of("dup", "s2", "once", null), probe.getRef()));
    }
    registry.tell(new SessionRegistry.Submit(Request.of("after", "s2", "next", null), probe.getRef()));
    probe.receiveSeveralMessages(4);
    Map<String, List<Event>> byRequest = read(6, "dup", "after");
    assertThat(byRequest.get("dup")).extracting(Event::state)
        .containsExactly(RequestState.QUEUED, RequestState.RUNNING, RequestState.COMPLETED);
    assertThat(byRequest.get("after")).hasSize(3);
  }

  @Test
  void anIdleSessionStopsItsActorAndItsNextRequestStartsFromTheSameMemory() {
    // the registry's timers run on a clock the test moves: idleness is decided, not raced against
    ActorTestKit manual = ActorTestKit.create("idle-sessions", ManualTime.config().withFallback(ConfigFactory.load()));
    try {
      ManualTime time = ManualTime.get(manual.system());
      TestProbe<String> lifecycle = manual.createTestProbe();
      ActorRef<SessionRegistry.Command> registry = manual.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5),
          java.time.Duration.ofMillis(500), (session, first, memory, reg) -> {
            lifecycle.getRef().tell("spawned with memory " + System.identityHashCode(memory));
            return fakeSession(session, reg, lifecycle.getRef());
          }));
      TestProbe<SessionRegistry.Outcome> probe = manual.createTestProbe();
      registry.tell(new SessionRegistry.Submit(Request.of("i1", "idle-s", "first", null), probe.getRef()));
      String spawned = lifecycle.expectMessageClass(String.class);
      assertThat(spawned).startsWith("spawned");
      probe.expectMessage(SessionRegistry.Outcome.FINISHED);
      // busy again before the idle time is up: the same actor, and its idle time starts over
      time.timePasses(java.time.Duration.ofMillis(400));
      registry.tell(new SessionRegistry.Submit(Request.of("i2", "idle-s", "second", null), probe.getRef()));
      probe.expectMessage(SessionRegistry.Outcome.FINISHED);
      time.expectNoMessageFor(java.time.Duration.ofMillis(499), lifecycle);
      // idle for 500 ms: the actor stops; the next request gets a new one, started from the same memory
      time.timePasses(java.time.Duration.ofMillis(1));
      assertThat(lifecycle.expectMessageClass(String.class)).isEqualTo("stopped");
      registry.tell(new SessionRegistry.Submit(Request.of("i3", "idle-s", "third", null), probe.getRef()));
      assertThat(lifecycle.expectMessageClass(String.class)).isEqualTo(spawned);
      probe.expectMessage(SessionRegistry.Outcome.FINISHED);
      // and a request delivered again after passivation is still recognised
      registry.tell(new SessionRegistry.Submit(Request.of("i1", "idle-s", "first", null), probe.getRef()));
      probe.expectMessage(SessionRegistry.Outcome.FINISHED);
      assertThat(read(9, "i1", "i2", "i3").get("i1")).extracting(Event::state)
          .containsExactly(RequestState.QUEUED, RequestState.RUNNING, RequestState.COMPLETED);
    } finally {
      manual.shutdownTestKit();
    }
  }

  @Test
  void aRecordReadBeforeItsPartitionWasHandedOverIsLeftToTheNextOwner() {
    TestProbe<String> lifecycle = kit.createTestProbe();
    ActorRef<SessionRegistry.Command> registry = registryTelling(lifecycle);
    TestProbe<org.apache.pekko.Done> released = kit.createTestProbe();
    // the worker's epochs: odd while it owns the partition (1), even once it is released (2)
    registry.tell(new SessionRegistry.Release(java.util.Set.of(0), false, released.getRef(), Map.of(0, 2L)));
    released.expectMessageClass(org.apache.pekko.Done.class);
    TestProbe<SessionRegistry.Outcome> probe = kit.createTestProbe();
    // read in epoch 1 (before the hand-over), on its way to the registry while it happened
    registry.tell(new SessionRegistry.Submit(Request.of("late", "s-late", "old", null),
        new SessionRegistry.Origin(0, 7, false, 1), probe.getRef()));
    probe.expectMessage(SessionRegistry.Outcome.RELEASED);
    lifecycle.expectNoMessage(java.time.Duration.ofMillis(200));
    // read again after the partition came back (epoch 3): it runs
    registry.tell(new SessionRegistry.Submit(Request.of("late", "s-late", "old", null),
        new SessionRegistry.Origin(0, 7, true, 3), probe.getRef()));
    probe.expectMessage(java.time.Duration.ofSeconds(10), SessionRegistry.Outcome.FINISHED);
    assertThat(lifecycle.receiveMessage()).isEqualTo("spawned default/s-late");
  }

  @Test
  void aFinishedRequestWhoseTerminalEventMayNotHaveGoneOutIsEndedByPublishingItNotByRunningItAgain() throws Exception {
    TestProbe<String> lifecycle = kit.createTestProbe();
    Event terminal = new Event(1, "pend", "s-pend", "default", 7, Instant.now(), RequestState.COMPLETED, Phase.DONE,
        "done by the previous owner", 1.0, null, null);
    io.reelay.protocol.SessionSnapshot snapshot = new io.reelay.protocol.SessionSnapshot(1, "s-pend", "default", "c", "anon_1",
        null, null, "en", null, null, null, List.of("pend"), 12L, terminal, Instant.now());
    // what the previous owner left on the sessions topic, indexed as a new owner's assignment does
    events.snapshot(snapshot, 0).toCompletableFuture().get();
    try (SnapshotStore store = new SnapshotStore(TestKafka.bootstrapServers(), topics, events.snapshotIndex(),
        java.time.Duration.ofSeconds(20))) {
      assertThat(store.load(0).sessions()).isEqualTo(1);
      ActorRef<SessionRegistry.Command> registry = kit.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5),
          java.time.Duration.ofMinutes(5), (session, first, memory, reg) -> {
            lifecycle.getRef().tell("spawned " + session);
            return fakeSession(session, reg);
          }, store));
      TestProbe<SessionRegistry.Outcome> probe = kit.createTestProbe();
      registry.tell(new SessionRegistry.Submit(Request.of("pend", "s-pend", "once", null),
          new SessionRegistry.Origin(0, 12, true, 0), probe.getRef()));
      probe.expectMessage(java.time.Duration.ofSeconds(10), SessionRegistry.Outcome.FINISHED);
      lifecycle.expectNoMessage(java.time.Duration.ofMillis(200)); // not run again
      assertThat(read(1, "pend").get("pend")).containsExactly(terminal);
    }
  }

  /** A registry whose sessions are fakes that tell {@code lifecycle} when one is spawned. */
  private static ActorRef<SessionRegistry.Command> registryTelling(TestProbe<String> lifecycle) {
    return kit.spawn(SessionRegistry.create(events, java.time.Duration.ofSeconds(5), java.time.Duration.ofMinutes(5),
        (session, first, memory, reg) -> {
          lifecycle.getRef().tell("spawned " + session);
          return fakeSession(session, reg);
        }));
  }

  /** Events of {@code ids} (all events when none given), once at least {@code atLeast} are there and the topic is quiet. */
  private static Map<String, List<Event>> read(int atLeast, String... ids) {
    java.util.Set<String> wanted = java.util.Set.of(ids);
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
        consumer.poll(java.time.Duration.ofMillis(300)).forEach(r -> {
          Event e = Json.read(r.value(), Event.class);
          if (wanted.isEmpty() || wanted.contains(e.requestId())) {
            all.add(e);
          }
        });
        quietPolls = all.size() == before ? quietPolls + 1 : 0;
      }
    }
    Map<String, List<Event>> by = new HashMap<>();
    all.forEach(e -> by.computeIfAbsent(e.requestId(), k -> new ArrayList<>()).add(e));
    return by;
  }
}

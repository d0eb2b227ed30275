package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * SessionActor's timer rules with the production durations (reference.conf), on virtual time:
 * "Still working…" after 2 min of heartbeats only, the dropped-stream checks at 30 s then every
 * 60 s up to 5, the 30-minute deadline. Each rule is checked one second before it is due (nothing
 * happened) and when it is due (it happened, as events on Kafka and calls in the simulator show).
 *
 * <p>The session runs on a {@link ManualTime} system; the simulators on separate systems: real time
 * for the dropped stream (its streams, heartbeats and latencies go on while virtual time stands
 * still), and a second manual clock for the reply that must come after a minute of silence (the
 * test moves the backend's time only once the session's minute has passed). Between two steps of
 * virtual time the test waits (polling, in real time) for the effect it expects.
 */
class SessionTimersTest {

  // the rules' values; @BeforeAll checks that they are the production defaults the test runs with
  private static final Duration STILL_WORKING = Duration.ofMinutes(2);
  private static final Duration FIRST_CHECK = Duration.ofSeconds(30);
  private static final Duration CHECK_INTERVAL = Duration.ofSeconds(60);
  private static final int MAX_UNCHANGED = 5;
  private static final Duration DEADLINE = Duration.ofMinutes(30);

  private static final Duration SECOND = Duration.ofSeconds(1);
  /** Real time given to an effect that must not happen: a fired timer shows on Kafka in well under this. */
  private static final Duration QUIET = Duration.ofSeconds(1);
  /** Real time an expected effect may take to become visible. */
  private static final Duration VISIBLE = Duration.ofSeconds(20);

  private static Config config;
  private static WorkerSettings settings;
  private static ActorTestKit backendKit; // real time: the simulators
  private static NemoSim sim;
  private static NemoSim mute; // never answers a sign-in
  // the backend's own pace on a clock the test moves: its reply comes when the test lets it
  private static ActorTestKit pacedKit;
  private static ManualTime backendTime;
  private static NemoSim paced;
  private static Topics topics;
  private static EventPublisher events;
  private static KafkaConsumer<String, byte[]> reader;
  private static final Map<String, List<Event>> seen = new HashMap<>();
  private static final HttpClient http = HttpClient.newHttpClient();
  private static final StateCipher cipher = StateCipher.fromBase64(StateCipher.newKey());

  private ActorTestKit kit; // virtual time: the session under test, its NemoClient
  private ManualTime time;
  private Duration now; // virtual time since the test began
  private TestProbe<SessionRegistry.Command> registry;

  @BeforeAll
  static void startBackendAndBroker() throws Exception {
    config = ConfigFactory.load();
    settings = WorkerSettings.from(config);
    assertThat(settings.stillWorkingInterval()).as("still-working-interval").isEqualTo(STILL_WORKING);
    assertThat(settings.recoveryFirstCheck()).as("recovery.first-check").isEqualTo(FIRST_CHECK);
    assertThat(settings.recoveryInterval()).as("recovery.interval").isEqualTo(CHECK_INTERVAL);
    assertThat(settings.recoveryMaxUnchanged()).as("recovery.max-unchanged").isEqualTo(MAX_UNCHANGED);
    assertThat(settings.requestDeadline()).as("request-deadline").isEqualTo(DEADLINE);

    // the simulator's server must not answer the never-answered sign-in itself (503 after 20 s)
    Config backend = ConfigFactory.parseMap(Map.of(
            "pekko.http.server.request-timeout", "infinite",
            "nemo-sim.port", 0,
            "nemo-sim.time-scale", 0.01,
            // a text reply takes 2 s of the backend's time (on the paced backend: only once the test moves it)
            "nemo-sim.timing.text-min", "200s",
            "nemo-sim.timing.text-max", "200s"))
        .withFallback(config);
    backendKit = ActorTestKit.create("timers-backend", backend);
    sim = NemoSim.start(backendKit.system(), SimSettings.from(backend.getConfig("nemo-sim")))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    Config silent = ConfigFactory.parseMap(Map.of(
            "nemo-sim.latency.anonymous-token.min", "1000h",
            "nemo-sim.latency.anonymous-token.max", "1000h"))
        .withFallback(backend);
    mute = NemoSim.start(backendKit.system(), SimSettings.from(silent.getConfig("nemo-sim")))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    // every answer at once (no latency to wait out on a clock that stands still); the turn's beats on backendTime
    Map<String, Object> instant = new HashMap<>();
    for (String endpoint : List.of("default", "anonymous-token", "run_sse", "upload", "render-submit")) {
      instant.put("nemo-sim.latency." + endpoint + ".min", "0ms");
      instant.put("nemo-sim.latency." + endpoint + ".max", "0ms");
    }
    Config pacedConfig = ManualTime.config().withFallback(ConfigFactory.parseMap(instant)).withFallback(backend);
    pacedKit = ActorTestKit.create("timers-paced-backend", pacedConfig);
    backendTime = ManualTime.get(pacedKit.system());
    paced = NemoSim.start(pacedKit.system(), SimSettings.from(pacedConfig.getConfig("nemo-sim")))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);

    topics = Topics.withPrefix(TestKafka.uniqueName("timers"));
    TopicSetup.ensure(TestKafka.bootstrapServers(), topics, 1, (short) 1);
    events = new EventPublisher(TestKafka.bootstrapServers(), topics, Map.of());
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    reader = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    TopicPartition events0 = new TopicPartition(topics.events(), 0);
    reader.assign(List.of(events0));
    reader.seekToBeginning(List.of(events0));
  }

  @AfterAll
  static void stopBackendAndBroker() throws Exception {
    reader.close();
    events.close();
    sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    mute.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    paced.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    backendKit.shutdownTestKit();
    pacedKit.shutdownTestKit();
  }

  @BeforeEach
  void startVirtualTime() {
    kit = ActorTestKit.create("timers", ManualTime.config().withFallback(config));
    time = ManualTime.get(kit.system());
    now = Duration.ZERO;
    registry = kit.createTestProbe(SessionRegistry.Command.class);
  }

  @AfterEach
  void stopVirtualTime() {
    kit.shutdownTestKit(); // closes the session's connections (a hanging stream, a sign-in never answered)
  }

  // ------------------------------------------------------------------ the rules

  @Test
  void stillWorkingComesAfterTwoMinutesWithoutAnEventAndAgainTwoMinutesLater() throws Exception {
    JsonNode before = stats(paced);
    String id = TestKafka.uniqueName("still");
    // one text reply (2 s of the backend's time after the stream opens), then heartbeats only; the stream
    // never closes. Chinese: the English capabilities answer is all GUI instruction to GuiTranslator, so no event
    handle(paced, id, "[sim:text] [sim:hang] 你好");
    List<Event> opened = await(id, "the stream opened", es -> indexOf(es, "Asking the agent") >= 0);
    int streamOpened = opened.size();

    // a minute of silence (the backend's clock stands still meanwhile), then the agent's reply: an event,
    // so the 2 minutes start again from it
    advance(Duration.ofSeconds(60));
    assertNothingPublished(id, streamOpened);
    Instant replyAfter = Instant.now();
    backendTime.timePasses(Duration.ofSeconds(3));
    Event reply = awaitNext(id, streamOpened);
    assertThat(reply.message()).startsWith("我可以根据文字描述生成视频");
    assertThat(reply.at()).as("the reply was published after virtual time reached 1:00").isAfter(replyAfter);

    advance(STILL_WORKING.minus(SECOND));
    assertNothingPublished(id, streamOpened + 1); // 2:59 since the stream opened, 1:59 since the reply
    advance(SECOND);
    Event first = awaitNext(id, streamOpened + 1); // 2:00 since the reply
    assertThat(first.message()).isEqualTo("Still working…");
    assertThat(first.state()).isEqualTo(RequestState.RUNNING);

    // "Still working…" is an event too: the next one is 2 min after it, not before
    advance(STILL_WORKING.minus(SECOND));
    assertNothingPublished(id, streamOpened + 2);
    advance(SECOND);
    Event second = awaitNext(id, streamOpened + 2);
    assertThat(second.message()).isEqualTo("Still working…");
    assertNothingPublished(id, streamOpened + 3);

    // all that time one stream, never closed: after the reply the backend sent heartbeats only
    JsonNode after = stats(paced);
    assertThat(after.path("calls").path("run_sse").asInt() - before.path("calls").path("run_sse").asInt()).isEqualTo(1);
    assertThat(after.path("hangingStreams").asInt() - before.path("hangingStreams").asInt()).isEqualTo(1);
  }

  @Test
  void aDroppedStreamIsCheckedAt30sThenEvery60sSentOnceMoreAfterFiveUnchangedChecksThenFails() throws Exception {
    long messagesBefore = stats(sim).path("messages").asLong();
    String id = TestKafka.uniqueName("cut");
    // a free text turn, connection aborted: the state never changes, and neither do the credits, so
    // the evidence says the backend never took it: it is sent once more, and dropped again
    handle(sim, id, "[sim:text] [sim:cut] hello");
    List<Event> dropped = await(id, "the dropped stream reported",
        es -> indexOf(es, "The connection to the agent dropped") >= 0);
    assertThat(last(dropped).message()).contains("the message is not sent again").endsWith("Checking the result in 30 s");
    long statesBefore = calls(sim, "state"); // the state read before the message was sent
    int published = dropped.size();

    Event fifth = fiveUnchangedChecks(id, statesBefore, published);
    published += MAX_UNCHANGED;
    assertThat(fifth.state()).isEqualTo(RequestState.RUNNING);
    assertThat(fifth.message()).isEqualTo("The backend never took the message (state and credits unchanged after 5 checks); sending it once more");
    List<Event> again = await(id, "the second message dropped too",
        es -> es.stream().filter(e -> e.message().startsWith("The connection to the agent dropped")).count() == 2);
    published = again.size();
    long statesThen = calls(sim, "state");

    Event end = fiveUnchangedChecks(id, statesThen, published);
    published += MAX_UNCHANGED;
    assertThat(end.state()).isEqualTo(RequestState.FAILED);
    assertThat(end.phase()).isEqualTo(Phase.DONE);
    assertThat(end.error().code()).isEqualTo("STREAM_LOST");
    assertThat(end.message()).isEqualTo("The connection dropped and nothing changed after 5 checks");
    registry.expectMessage(VISIBLE, new SessionRegistry.Finished(id, id));

    // over: no further check, nothing more published, and the message was sent twice, never a third time
    advance(CHECK_INTERVAL.plus(SECOND));
    assertNothingPublished(id, published);
    assertThat(calls(sim, "state")).isEqualTo(statesThen + MAX_UNCHANGED);
    assertThat(stats(sim).path("messages").asLong() - messagesBefore).isEqualTo(2);
  }

  /**
   * Moves virtual time through the five checks of a dropped stream (30 s, then every 60 s), each
   * one state call that sees no change; nothing happens before each is due. The fifth check's event.
   */
  private Event fiveUnchangedChecks(String id, long statesBefore, int published) throws Exception {
    List<Duration> checks = new ArrayList<>();
    Duration start = now;
    Event answer = null;
    for (int k = 1; k <= MAX_UNCHANGED; k++) {
      Duration gap = k == 1 ? FIRST_CHECK : CHECK_INTERVAL;
      advance(gap.minus(SECOND));
      assertNothingPublished(id, published);
      assertThat(calls(sim, "state")).as("state checks at %s", now).isEqualTo(statesBefore + k - 1);
      advance(SECOND);
      awaitCalls(sim, "state", statesBefore + k);
      checks.add(now.minus(start));
      answer = awaitNext(id, published++);
      if (k < MAX_UNCHANGED) {
        assertThat(answer.state()).isEqualTo(RequestState.RUNNING);
        assertThat(answer.message()).isEqualTo("No change yet (check " + k + " of " + MAX_UNCHANGED + "); looking again in 60 s");
      }
    }
    assertThat(checks).containsExactly(
        Duration.ofSeconds(30), Duration.ofSeconds(90), Duration.ofSeconds(150), Duration.ofSeconds(210), Duration.ofSeconds(270));
    return answer;
  }

  @Test
  void aRequestNotFinishedAfter30MinutesFailsWithDeadline() throws Exception {
    String id = TestKafka.uniqueName("deadline");
    handle(mute, id, "hello"); // the sign-in is never answered
    List<Event> start = await(id, "signing in", es -> indexOf(es, "Signing in") >= 0);
    awaitCalls(mute, "anonymous-token", 1);

    advance(DEADLINE.minus(SECOND));
    assertNothingPublished(id, start.size()); // 29:59
    registry.expectNoMessage(Duration.ofMillis(100));
    advance(SECOND);
    Event end = awaitNext(id, start.size()); // 30:00
    assertThat(end.state()).isEqualTo(RequestState.FAILED);
    assertThat(end.phase()).isEqualTo(Phase.DONE);
    assertThat(end.error().code()).isEqualTo("DEADLINE");
    assertThat(end.message()).isEqualTo("Gave up after PT30M");
    registry.expectMessage(VISIBLE, new SessionRegistry.Finished(id, id));
    assertThat(calls(mute, "anonymous-token")).isEqualTo(1); // waited; no other call was made meanwhile
  }

  // ------------------------------------------------------------------ the session, virtual time

  /**
   * A new session handed {@code text} as a generate request {@code id}. Its NemoClient lives on the
   * virtual-time system too, and pekko-http behaves there: connection and pool idle timeouts compare
   * System.nanoTime (virtual ticks only trigger the check), and the deadlines that do run on virtual
   * time (toStrict's request-timeout, the SSE completion timeout) are never crossed while a call is
   * in flight, because the tests move time only once the previous effect is visible.
   */
  private void handle(NemoSim backend, String id, String text) {
    // a call's own deadline (request-timeout, 30 s) beyond the request's: the never-answered sign-in waits for the latter
    Config nemo = backend == mute
        ? ConfigFactory.parseMap(Map.of("request-timeout", "1h")).withFallback(config.getConfig("reelay.nemo"))
        : config.getConfig("reelay.nemo");
    NemoClient client = new NemoClient(kit.system(), NemoSettings.from(nemo).withBaseUrl(backend.baseUrl()));
    ActorRef<SessionActor.Command> session = kit.spawn(SessionActor.create(
        id, new SessionMemory(id, Request.DEFAULT_TENANT, events), settings, client, new RequestEvents(events), cipher, registry.getRef()));
    registry.expectMessage(new SessionRegistry.Started(id));
    session.tell(new SessionActor.Handle(Request.of(id, id, text, Action.GENERATE), SessionRegistry.Origin.NONE, 2, false));
  }

  private void advance(Duration d) {
    time.timePasses(d);
    now = now.plus(d);
  }

  // ------------------------------------------------------------------ what a user sees: events, backend calls

  /** The events of {@code requestId} read so far (polls once). */
  private static List<Event> eventsOf(String requestId) {
    reader.poll(Duration.ofMillis(100)).forEach(r -> {
      Event e = Json.read(r.value(), Event.class);
      seen.computeIfAbsent(e.requestId(), k -> new ArrayList<>()).add(e);
    });
    return List.copyOf(seen.getOrDefault(requestId, List.of()));
  }

  private static List<Event> await(String requestId, String what, Predicate<List<Event>> done) {
    long deadline = System.nanoTime() + VISIBLE.toNanos();
    List<Event> es = eventsOf(requestId);
    while (!done.test(es)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not seen within " + VISIBLE + ": " + what + "; events: " + messages(es));
      }
      es = eventsOf(requestId);
    }
    return es;
  }

  /** The event after the first {@code count}, once it is there. */
  private static Event awaitNext(String requestId, int count) {
    return await(requestId, "event #" + (count + 1), es -> es.size() > count).get(count);
  }

  private void assertNothingPublished(String requestId, int count) {
    long until = System.nanoTime() + QUIET.toNanos();
    List<Event> es = eventsOf(requestId);
    while (System.nanoTime() < until) {
      es = eventsOf(requestId);
    }
    assertThat(messages(es)).as("events of %s at %s", requestId, now).hasSize(count);
  }

  private static int indexOf(List<Event> es, String messageStart) {
    for (int i = 0; i < es.size(); i++) {
      if (es.get(i).message() != null && es.get(i).message().startsWith(messageStart)) {
        return i;
      }
    }
    return -1;
  }

  private static Event last(List<Event> es) {
    return es.get(es.size() - 1);
  }

  private static List<String> messages(List<Event> es) {
    return es.stream().map(e -> e.seq() + " " + e.state() + " " + e.message()).toList();
  }

  private static JsonNode stats(NemoSim backend) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(backend.baseUrl() + "/_sim/stats")).build(),
        HttpResponse.BodyHandlers.ofString());
    return Json.mapper().readTree(r.body());
  }

  private static long calls(NemoSim backend, String endpoint) throws Exception {
    return stats(backend).path("calls").path(endpoint).asLong();
  }

  private static void awaitCalls(NemoSim backend, String endpoint, long expected) throws Exception {
    long deadline = System.nanoTime() + VISIBLE.toNanos();
    long n;
    while ((n = calls(backend, endpoint)) < expected) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(endpoint + " calls: " + n + ", expected " + expected + " within " + VISIBLE);
      }
      Thread.sleep(20);
    }
    assertThat(n).as("%s calls", endpoint).isEqualTo(expected);
  }
}

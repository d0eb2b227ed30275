package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.EmbeddedKafka;
import io.reelay.kafka.TestKafka;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka broker goes away in the middle of a run of two workers and comes back (same ports, same data): every
 * request still ends exactly once, COMPLETED, with its events in order (a terminal event may be
 * published again as the identical event, see below), and nothing is sent to the backend twice. Uses a broker of its own (it is stopped here), never the shared test broker.
 */
class BrokerRestartTest {

  private static final Logger log = LoggerFactory.getLogger(BrokerRestartTest.class);
  private static final String TEXT = "a fox running through a snowy forest at dusk";
  private static final int BEFORE = 8;
  private static final int AFTER = 4;
  private static final Duration OUTAGE = Duration.ofSeconds(5);

  @TempDir Path dir;

  private EmbeddedKafka kafka;
  /** Two workers of one group, each in an actor system of its own, as two processes would be. */
  private final List<ActorTestKit> kits = new ArrayList<>();
  private final List<Worker> workers = new ArrayList<>();
  private ActorTestKit simKit;
  private NemoSim sim;
  private KafkaProducer<String, String> producer;
  private Topics topics;
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  @Timeout(value = 12, unit = TimeUnit.MINUTES)
  void aBrokerRestartMidRunLosesNothingAndRepeatsNothing() throws Exception {
    Path data = dir.resolve("kafka");
    int port = freePort();
    int controllerPort = freePort(port);
    kafka = EmbeddedKafka.start(new EmbeddedKafka.Settings(data, port, controllerPort, true));
    String clusterId = kafka.clusterId();
    String bootstrap = kafka.bootstrapServers();
    topics = Topics.withPrefix(TestKafka.uniqueName("restart"));
    String group = TestKafka.uniqueName("workers");
    TopicSetup.ensure(bootstrap, topics, 3, (short) 1);

    Config config = ConfigFactory.parseMap(Map.ofEntries(
            Map.entry("nemo-sim.port", 0),
            // a generation takes 3-9 s: the broker goes away while they run
            Map.entry("nemo-sim.time-scale", 0.03),
            Map.entry("reelay.worker.state-key", StateCipher.newKey()),
            Map.entry("reelay.worker.recovery.first-check", "1s"),
            Map.entry("reelay.worker.recovery.interval", "1s"),
            Map.entry("reelay.worker.recovery.max-unchanged", 40),
            Map.entry("reelay.worker.render-poll.grid", "300ms"),
            Map.entry("reelay.worker.render-poll.margin", "50ms"),
            Map.entry("reelay.worker.render-poll.min-gap", "50ms"),
            Map.entry("reelay.nemo.retry.initial", "50ms"),
            Map.entry("reelay.nemo.retry.max", "200ms"),
            Map.entry("reelay.nemo.retry.rate-limit-wait", "200ms")))
        .withFallback(ConfigFactory.load())
        .resolve();
    // the backend is a service of its own: a worker thread stuck on Kafka must not stall it too
    simKit = ActorTestKit.create("nemo-sim", config);
    sim = NemoSim.start(simKit.system(), SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
    WorkerSettings settings = WorkerSettings.from(config).withKafka(bootstrap, topics).withGroupId(group).withHttpPort(0);
    for (String name : List.of("broker-restart-a", "broker-restart-b")) {
      ActorTestKit kit = ActorTestKit.create(name, config);
      kits.add(kit);
      NemoClient client = new NemoClient(kit.system(), NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()));
      workers.add(Worker.start(kit.system(), settings, client));
    }
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      await("both workers own partitions", Duration.ofMinutes(1), () -> membersWithPartitions(admin, group) == 2);
    }
    producer = new KafkaProducer<>(
        Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ProducerConfig.ACKS_CONFIG, "all"),
        new StringSerializer(), new StringSerializer());

    // 8 sessions, one generation each (a generation spends a fresh session's 100 credits)
    String run = UUID.randomUUID().toString().substring(0, 8);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < BEFORE; i++) {
      ids.add(request("fox-" + run + "-" + i, "g-" + run + "-" + i));
    }

    // the broker goes away while the agent generates (RUNNING in phase GENERATING: the message is sent)
    Map<String, List<Event>> beforeOutage = awaitEvents(bootstrap, topics.events(), Duration.ofMinutes(3),
        seen -> count(seen, BrokerRestartTest::generating) >= 3);
    log.info("stopping the broker; {} request(s) generating, {} finished",
        count(beforeOutage, BrokerRestartTest::generating), count(beforeOutage, Event::isTerminal));
    kafka.close();
    Thread.sleep(OUTAGE.toMillis());
    kafka = EmbeddedKafka.start(new EmbeddedKafka.Settings(data, port, controllerPort, true));
    assertThat(kafka.clusterId()).as("the same cluster came back").isEqualTo(clusterId);
    assertThat(kafka.bootstrapServers()).isEqualTo(bootstrap);
    log.info("broker back on {}", bootstrap);

    for (int i = BEFORE; i < BEFORE + AFTER; i++) {
      ids.add(request("fox-" + run + "-" + i, "g-" + run + "-" + i));
    }

    // every request ends; then the worker settles (nothing in hand, nothing more written)
    awaitEvents(bootstrap, topics.events(), Duration.ofMinutes(6),
        seen -> ids.stream().allMatch(id -> seen.getOrDefault(id, List.of()).stream().anyMatch(Event::isTerminal)));
    await("the workers hold no request", Duration.ofMinutes(2), () -> workers.stream().allMatch(w -> w.requestsInHand() == 0));
    awaitQuiet(bootstrap, List.of(topics.events(), topics.completions()), Duration.ofSeconds(5), Duration.ofMinutes(2));
    logCommitLag(bootstrap, group, topics.requests());

    Map<String, List<Event>> events = byRequest(readAll(bootstrap, topics.events()));
    Map<String, List<Event>> completions = byRequest(readAll(bootstrap, topics.completions()));
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(events.keySet()).as("requests with events").containsExactlyInAnyOrderElementsOf(ids);
    soft.assertThat(completions.keySet()).as("requests with a completion").containsExactlyInAnyOrderElementsOf(ids);
    for (String id : ids) {
      List<Event> all = events.getOrDefault(id, List.of());
      if (all.isEmpty()) {
        continue; // reported above
      }
      // the one repeat allowed: a terminal event whose acknowledgement a hand-over cut off is
      // published again by the next owner as the very same event (same seq, same time), which
      // readers drop by its seq; anything else repeated, or a second different end, fails below
      List<Event> mine = EventChecks.withoutRepublishedTerminal(all);
      if (mine.size() < all.size()) {
        log.info("{}: {} identical terminal event(s) published again", id, all.size() - mine.size());
      }
      for (int i = 1; i < mine.size(); i++) {
        soft.assertThat(mine.get(i).seq()).as("seq of %s strictly increases:%s", id, describe(mine))
            .isGreaterThan(mine.get(i - 1).seq());
      }
      soft.assertThat(mine.stream().filter(Event::isTerminal).count()).as("terminal events of %s:%s", id, describe(mine)).isOne();
      Event last = mine.get(mine.size() - 1);
      soft.assertThat(last.state()).as("%s ends COMPLETED, last:%s", id, describe(mine)).isEqualTo(RequestState.COMPLETED);
      // what the same request gets without a restart: the agent suggests exporting, the worker renders
      soft.assertThat(last.result() == null ? null : last.result().downloadUrl())
          .as("%s ends with its video (download URL), as it does without a broker restart:%s", id, describe(mine))
          .contains(".mp4");
      soft.assertThat(completions.getOrDefault(id, List.of()).stream().distinct().toList()).as("completions of %s", id)
          .extracting(Event::state).containsExactly(RequestState.COMPLETED);
    }

    JsonNode stats = stats();
    log.info("simulator stats: {}", stats);
    soft.assertThat(stats.path("duplicateRenderSubmits").asLong(-1)).as("duplicateRenderSubmits").isZero();
    soft.assertThat(stats.path("repeatedMessages").asLong(-1)).as("repeatedMessages").isZero();
    // one generation per request: nothing was run (and charged) twice, not even in a new backend session
    soft.assertThat(stats.path("generations").asLong(-1)).as("generations").isEqualTo(ids.size());
    for (ActorTestKit kit : kits) {
      soft.assertThat(kit.system().whenTerminated().isCompleted()).as("the actor system of %s stopped", kit.system().name()).isFalse();
    }
    soft.assertAll();
  }

  @AfterEach
  void stop() {
    quietly("producer", () -> producer.close(Duration.ofSeconds(5)));
    for (Worker w : workers) {
      quietly("worker", () -> w.stop().toCompletableFuture().get(60, TimeUnit.SECONDS));
    }
    quietly("simulator", () -> sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS));
    for (ActorTestKit kit : kits) {
      quietly("actor system", kit::shutdownTestKit);
    }
    quietly("simulator's actor system", () -> simKit.shutdownTestKit());
    quietly("broker", () -> kafka.close());
  }

  // ------------------------------------------------------------------ helpers

  private String request(String session, String id) throws Exception {
    String json = "{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + session + "\",\"text\":\"" + TEXT + "\"}";
    producer.send(new ProducerRecord<>(topics.requests(), session, json)).get(60, TimeUnit.SECONDS);
    return id;
  }

  /** Members of {@code group} that own at least one partition (0 while the group forms). */
  private static long membersWithPartitions(Admin admin, String group) {
    try {
      return admin.describeConsumerGroups(List.of(group)).all().get(10, TimeUnit.SECONDS).get(group).members().stream()
          .filter(m -> !m.assignment().topicPartitions().isEmpty()).count();
    } catch (Exception notYet) {
      return 0;
    }
  }

  private static boolean generating(Event e) {
    return e.state() == RequestState.RUNNING && e.phase() == Phase.GENERATING;
  }

  private static long count(Map<String, List<Event>> seen, java.util.function.Predicate<Event> p) {
    return seen.values().stream().filter(l -> l.stream().anyMatch(p)).count();
  }

  /** Follows {@code topic} with a fresh group from the beginning until {@code done} holds for what was read. */
  private static Map<String, List<Event>> awaitEvents(
      String bootstrap, String topic, Duration timeout, java.util.function.Predicate<Map<String, List<Event>>> done) {
    List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(250)).forEach(records::add);
        Map<String, List<Event>> seen = byRequest(records);
        if (done.test(seen)) {
          return seen;
        }
      }
      throw new AssertionError("condition not met on " + topic + " within " + timeout + "; saw:\n" + describeAll(byRequest(records)));
    }
  }

  /** Everything on {@code topic} up to its current end, read by a fresh consumer group from the beginning. */
  private static List<ConsumerRecord<String, byte[]>> readAll(String bootstrap, String topic) {
    List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
      List<TopicPartition> tps = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
      Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
      while (!reached(c, end)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("could not read " + topic + " to " + end + " within 2 min");
        }
        c.poll(Duration.ofMillis(250)).forEach(records::add);
      }
    }
    return records;
  }

  private static boolean reached(KafkaConsumer<String, byte[]> c, Map<TopicPartition, Long> end) {
    if (!c.assignment().containsAll(end.keySet())) {
      return false;
    }
    return end.entrySet().stream().allMatch(e -> c.position(e.getKey(), Duration.ofSeconds(30)) >= e.getValue());
  }

  private static KafkaConsumer<String, byte[]> consumer(String bootstrap) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("reader"));
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    return new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
  }

  private static Map<String, List<Event>> byRequest(List<ConsumerRecord<String, byte[]>> records) {
    Map<String, List<Event>> m = new TreeMap<>();
    // records of one key are on one partition, in order
    for (ConsumerRecord<String, byte[]> r : records) {
      Event e = Json.read(r.value(), Event.class);
      m.computeIfAbsent(e.requestId(), k -> new ArrayList<>()).add(e);
    }
    return m;
  }

  private static String describe(List<Event> events) {
    return events.stream().map(e -> e.at().toString().substring(11, 23) + " " + e.seq() + ":" + e.state() + ":" + e.phase() + " " + abbreviate(e.message()))
        .collect(Collectors.joining("\n  ", "\n  ", ""));
  }

  private static String describeAll(Map<String, List<Event>> m) {
    return m.entrySet().stream().map(e -> e.getKey() + describe(e.getValue())).collect(Collectors.joining("\n"));
  }

  private static String abbreviate(String s) {
    return s == null ? "" : s.length() > 80 ? s.substring(0, 80) + "…" : s;
  }

  /** Waits until the end offsets of {@code topics} stayed unchanged for {@code quiet}. */
  private static void awaitQuiet(String bootstrap, List<String> topics, Duration quiet, Duration timeout) throws Exception {
    try (Admin admin = admin(bootstrap)) {
      long deadline = System.nanoTime() + timeout.toNanos();
      Map<TopicPartition, Long> last = endOffsets(admin, topics);
      long since = System.nanoTime();
      while (System.nanoTime() - since < quiet.toNanos()) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(topics + " still growing after " + timeout);
        }
        Thread.sleep(500);
        Map<TopicPartition, Long> now = endOffsets(admin, topics);
        if (!now.equals(last)) {
          last = now;
          since = System.nanoTime();
        }
      }
    }
  }

  /** Diagnostics only: how far the workers' committed offsets are behind the end of {@code requests}. */
  private static void logCommitLag(String bootstrap, String group, String requests) {
    try (Admin admin = admin(bootstrap)) {
      Map<TopicPartition, Long> end = endOffsets(admin, List.of(requests));
      Map<TopicPartition, OffsetAndMetadata> committed =
          admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
      Map<TopicPartition, String> lag = new LinkedHashMap<>();
      end.forEach((tp, e) -> {
        OffsetAndMetadata c = committed.get(tp);
        lag.put(tp, (c == null ? "none" : Long.toString(c.offset())) + "/" + e);
      });
      log.info("requests committed/end per partition: {}", lag);
    } catch (Exception e) {
      log.warn("could not read the committed offsets of {}: {}", group, e.toString());
    }
  }

  private static Map<TopicPartition, Long> endOffsets(Admin admin, List<String> topics) throws Exception {
    Set<TopicPartition> tps = admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS).values().stream()
        .flatMap(d -> d.partitions().stream().map(p -> new TopicPartition(d.name(), p.partition())))
        .collect(Collectors.toSet());
    Map<TopicPartition, OffsetSpec> latest = tps.stream().collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest()));
    Map<TopicPartition, Long> out = new TreeMap<>(java.util.Comparator.comparing(TopicPartition::toString));
    admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> out.put(tp, info.offset()));
    return out;
  }

  private static Admin admin(String bootstrap) {
    return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000"));
  }

  private JsonNode stats() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return Json.mapper().readTree(r.body());
  }

  private static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      Thread.sleep(200);
    }
  }

  /**
   * A free port below the kernel's ephemeral range: the broker's port stays unused for seconds while
   * clients keep reconnecting to it, and a port in the ephemeral range could meanwhile be taken by
   * one of those clients' own sockets (a TCP self-connect), so the broker could not bind it again.
   */
  private static int freePort(int... avoid) {
    for (int attempt = 0; attempt < 200; attempt++) {
      int candidate = ThreadLocalRandom.current().nextInt(20_000, 32_000);
      if (java.util.Arrays.stream(avoid).anyMatch(a -> a == candidate)) {
        continue;
      }
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(false);
        s.bind(new InetSocketAddress("127.0.0.1", candidate));
        return candidate;
      } catch (IOException taken) {
        // try another
      }
    }
    throw new IllegalStateException("no free port in 20000-31999");
  }

  private interface Step {
    void run() throws Exception;
  }

  private static void quietly(String what, Step step) {
    try {
      step.run();
    } catch (NullPointerException notStarted) {
      // never started
    } catch (Exception e) {
      log.warn("stopping the {} failed: {}", what, e.toString());
    }
  }
}

package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two status instances of one deployment (one application.id, one peer key, each its own state
 * directory) over a real broker: a in a JVM of its own (so it can die as a process does, with
 * SIGKILL), b in this one. The partitions split between them, either answers any request by
 * routing it to its owner, listings merge both halves, live events reach a client of the instance
 * that does not own the request, and when a dies its requests are answered again within seconds
 * (b's standby copies, then b owning them) and its partitions move to b.
 */
class StatusClusterTest {

  private static final Logger log = LoggerFactory.getLogger(StatusClusterTest.class);
  static final String KEY_1 = "key-one";
  static final String KEY_2 = "key-two";
  static final int REQUESTS = 24;
  static KafkaProducer<String, byte[]> producer;

  @BeforeAll
  static void start() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  @AfterAll
  static void stop() {
    producer.close();
  }

  @Test
  void eitherInstanceAnswersEveryRequestAndAfterOneDiesTheOtherAnswersWithinSecondsAndTakesOver() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("cluster"));
    createTopics(topics, 6);
    String peerKey = PeerRoutes.processKey() + "-cluster"; // a's process has another: both are told this one
    // heartbeats every half second on b, to see them on a stream b relays
    StatusSettings settings = StatusSettings.from(com.typesafe.config.ConfigFactory.parseString("sse-keep-alive = 500ms")
            .withFallback(com.typesafe.config.ConfigFactory.load().getConfig("reelay.status")))
        .withPort(0).withApiKeys(Map.of(KEY_1, "t1", KEY_2, "t2"));
    settings = TestStore.inTempDir(settings);
    settings = settings.withStore(settings.store().withPeerKey(peerKey));
    ActorTestKit kitB = ActorTestKit.create("status-b");
    Process a = startInOwnJvm(topics, peerKey);
    try {
      String aUrl = "http://127.0.0.1:" + aPort;
      Http viaA = new Http(aUrl);
      await("a ready").atMost(Duration.ofSeconds(90)).until(() -> answers(viaA, "/readyz") == 200);
      StatusServer b = StatusServer.start(kitB.system(), settings, TestKafka.bootstrapServers(), topics)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      Http viaB = new Http(b.baseUrl());
      await("the partitions split").atMost(Duration.ofSeconds(90)).until(() -> b.isReady()
          && !b.ownedPartitions().isEmpty() && b.ownedPartitions().size() < 6);
      log.info("partitions: b {}, a the others", b.ownedPartitions());

      List<String> ids = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        String id = String.format("r%02d", i);
        ids.add(id);
        send(event(id, "s" + (i % 4), "t1", 1, RequestState.QUEUED));
        send(event(id, "s" + (i % 4), "t1", 2, RequestState.RUNNING));
      }
      send(event("other", "s0", "t2", 1, RequestState.QUEUED));

      // 1. any instance answers any request: the owner reads its store, the other routes to it
      for (String id : ids) {
        await().atMost(Duration.ofSeconds(30)).until(() -> viaA.get("/v1/requests/" + id, KEY_1).status() == 200
            && viaB.get("/v1/requests/" + id, KEY_1).status() == 200);
        assertThat(viaA.get("/v1/requests/" + id, KEY_1).json().get("seq").asLong()).isEqualTo(2);
        assertThat(viaB.get("/v1/requests/" + id, KEY_1).json().get("seq").asLong()).isEqualTo(2);
        // the tenant checks are those of a single instance, whoever owns the request
        assertThat(viaA.get("/v1/requests/" + id, KEY_2).status()).isEqualTo(404);
        assertThat(viaB.get("/v1/requests/" + id, KEY_2).status()).isEqualTo(404);
      }
      List<String> ownedByA = ids.stream().filter(id -> !b.owns("t1", id)).toList();
      assertThat(ownedByA).as("requests owned by a").isNotEmpty().hasSizeLessThan(REQUESTS);

      // 2. listings gather both halves, page by page, from either instance
      assertThat(walk(viaA, "/v1/requests?limit=5", KEY_1)).containsExactlyElementsOf(ids);
      assertThat(walk(viaB, "/v1/requests?limit=7", KEY_1)).containsExactlyElementsOf(ids);
      assertThat(walk(viaB, "/v1/sessions/s1?limit=2", KEY_1)).containsExactlyElementsOf(ids.stream().filter(id -> Integer.parseInt(id.substring(1)) % 4 == 1).toList());
      assertThat(walk(viaA, "/v1/requests", KEY_2)).containsExactly("other");

      // 3. live events through the instance that does not own the request: history, live, the end
      String live = ownedByA.get(0);
      List<String> lines = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> ended = follow(viaB, "/v1/requests/" + live + "/events", "1", lines);
      await().atMost(Duration.ofSeconds(10)).until(() -> lines.contains("id:2"));
      // idle: b's heartbeats keep the relayed stream alive
      await("heartbeats").atMost(Duration.ofSeconds(10)).until(() -> lines.size() >= lines.indexOf("id:2") + 8);
      assertThat(lines.subList(lines.indexOf("id:2") + 2, lines.size()))
          .allMatch(l -> l.isEmpty() || l.equals("data:") || l.equals("data: ") || l.startsWith(":"));
      send(event(live, "s0", "t1", 3, RequestState.RUNNING));
      send(event(live, "s0", "t1", 4, RequestState.COMPLETED));
      ended.get(20, TimeUnit.SECONDS);
      assertThat(lines.stream().filter(l -> l.startsWith("id:")).map(l -> l.substring(3).trim())).containsExactly("2", "3", "4");

      // 4. a dies (SIGKILL): b answers a's requests again within seconds, from its standby copies until it owns them
      List<String> aRequests = ownedByA.stream().filter(id -> !id.equals(live)).toList();
      await("b's standby copies caught up").atMost(Duration.ofSeconds(30))
          .until(() -> aRequests.stream().allMatch(id -> b.copyHere("t1", id).map(s -> s.latest().seq() == 2).orElse(false)));
      a.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      long crashed = System.nanoTime();
      int refused = 0;
      long slowest = 0;
      for (String id : aRequests) {
        while (true) {
          long t0 = System.nanoTime();
          Http.Answer answer = viaB.get("/v1/requests/" + id, KEY_1);
          slowest = Math.max(slowest, System.nanoTime() - t0);
          if (answer.status() == 200) {
            assertThat(answer.json().get("seq").asLong()).isEqualTo(2);
            break;
          }
          assertThat(answer.status()).as("GET %s after a died: %s", id, answer.body()).isEqualTo(503);
          refused++;
          assertThat(System.nanoTime() - crashed).as("a's requests answered again within 10 s").isLessThan(TimeUnit.SECONDS.toNanos(10));
          Thread.sleep(50);
        }
      }
      log.info("a's {} requests answered by b within {} ms of a dying (the slowest GET {} ms; {} GETs answered 503 meanwhile)",
          aRequests.size(), (System.nanoTime() - crashed) / 1_000_000, slowest / 1_000_000, refused);

      // 5. once the session times out, b owns every partition and keeps them current
      await("b took over").atMost(Duration.ofSeconds(60)).until(() -> b.ownedPartitions().size() == 6);
      log.info("b owns every partition {} ms after a died", (System.nanoTime() - crashed) / 1_000_000);
      String moved = aRequests.get(0);
      send(event(moved, "s0", "t1", 3, RequestState.COMPLETED));
      await().atMost(Duration.ofSeconds(30)).until(() -> viaB.get("/v1/requests/" + moved, KEY_1).json().get("seq").asLong() == 3);
      assertThat(walk(viaB, "/v1/requests?limit=10", KEY_1)).containsExactlyInAnyOrderElementsOf(ids);
      b.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } finally {
      a.destroyForcibly();
      kitB.shutdownTestKit();
    }
  }

  private static int aPort;

  /** Instance a: {@code reelay status-server}'s main in a JVM of its own, configured by a file as in production. */
  private static Process startInOwnJvm(Topics topics, String peerKey) throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      aPort = s.getLocalPort();
    }
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("reelay-status-a");
    String prefix = topics.events().substring(0, topics.events().length() - ".events".length());
    java.nio.file.Path conf = dir.resolve("status.conf");
    java.nio.file.Files.writeString(conf, """
        include "application"
        reelay.kafka.bootstrap-servers = "%s"
        reelay.topics.prefix = "%s"
        reelay.status {
          host = "127.0.0.1"
          port = %d
          api-keys = "%s=t1,%s=t2"
          store.state-dir = "%s"
          peers.key = "%s"
        }
        reelay.webhooks.enabled = false
        """.formatted(TestKafka.bootstrapServers(), prefix, aPort, KEY_1, KEY_2, dir.resolve("state"), peerKey));
    java.nio.file.Path out = java.nio.file.Path.of("target", "status-cluster-a.log");
    ProcessBuilder pb = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-Dconfig.file=" + conf, "-cp", System.getProperty("java.class.path"), StatusServer.class.getName())
        .redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("REELAY_") || k.startsWith("CONFIG_FORCE_"));
    return pb.start();
  }

  private static int answers(Http http, String path) {
    try {
      return http.get(path, null).status();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Every requestId of a listing, following nextAfter to the last page. */
  private static List<String> walk(Http http, String path, String key) {
    List<String> out = new ArrayList<>();
    String after = null;
    for (int page = 0; page < 100; page++) {
      Http.Answer answer = http.get(path + (after == null ? "" : (path.contains("?") ? "&" : "?") + "after=" + after), key);
      assertThat(answer.status()).as(answer.body()).isEqualTo(200);
      JsonNode body = answer.json();
      body.get("requests").forEach(r -> out.add(r.get("requestId").asText()));
      if (!body.get("hasMore").asBoolean()) {
        return out;
      }
      after = body.get("nextAfter").asText();
    }
    throw new AssertionError("more than 100 pages");
  }

  private static CompletableFuture<Void> follow(Http http, String path, String lastEventId, List<String> lines) {
    return Http.CLIENT
        .sendAsync(http.builder(path, KEY_1).header("Last-Event-ID", lastEventId).timeout(Duration.ofSeconds(60)).GET().build(),
            HttpResponse.BodyHandlers.ofLines())
        .thenAcceptAsync(r -> {
          assertThat(r.statusCode()).isEqualTo(200);
          try (Stream<String> s = r.body()) {
            s.forEach(lines::add);
          }
        });
  }

  private static void send(Event e) throws Exception {
    producer.send(new ProducerRecord<>(lastTopic, Topics.requestKey(e.tenant(), e.requestId()), Json.bytes(e))).get(30, TimeUnit.SECONDS);
  }

  private static String lastTopic;

  private static void createTopics(Topics topics, int partitions) throws Exception {
    lastTopic = topics.events();
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(topics.events(), partitions, (short) 1), new NewTopic(topics.requests(), partitions, (short) 1)))
          .all().get(30, TimeUnit.SECONDS);
    }
  }
}

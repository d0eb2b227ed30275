package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The status service against a real broker ({@link TestKafka}) and fresh topics. */
class StatusServerKafkaTest {

  static final String KEY = "integration-key";
  static final ActorTestKit testKit = ActorTestKit.create();
  static String bootstrap;
  static KafkaProducer<String, byte[]> producer;

  @BeforeAll
  static void broker() {
    bootstrap = TestKafka.bootstrapServers();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  @AfterAll
  static void stop() {
    producer.close();
    testKit.shutdownTestKit();
  }

  @Test
  void viewFollowsTheEventsTopicAndTheApiPublishesRequests() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("t"));
    StatusSettings settings = StatusSettings.defaults().withPort(0).withApiKeys(Map.of(KEY, "default"));

    // starts before the topics exist (the worker creates them): alive, not ready, saying why
    StatusServer server = StatusServer.start(testKit.system(), TestStore.inTempDir(settings), bootstrap, topics)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    Http http = new Http(server.baseUrl());
    assertThat(http.get("/healthz", null).status()).isEqualTo(200);
    Http.Answer notReady = http.get("/readyz", null);
    assertThat(notReady.status()).isEqualTo(503);
    assertThat(notReady.json().get("status").asText()).isEqualTo("waiting for the events topic");
    assertThat(http.get("/v1/requests/r1", KEY).status()).isEqualTo(503);

    createTopics(topics);
    await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/readyz", null).status() == 200);
    send(topics.events(), "default/r1", Json.bytes(event("r1", "s1", "default", 1, RequestState.QUEUED)));
    send(topics.events(), "default/r1", "{not json".getBytes(StandardCharsets.UTF_8)); // skipped, never kills the stream
    send(topics.events(), "default/r1", Json.bytes(event("r1", "s1", "default", 2, RequestState.RUNNING)));
    send(topics.events(), "default/r1", Json.bytes(event("r1", "s1", "default", 1, RequestState.QUEUED))); // duplicate

    // the events are folded one by one: wait for the last of the four (the duplicate, counted and ignored)
    await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/v1/requests/r1", KEY).status() == 200
        && http.get("/metrics", null).body().contains("reelay_status_events_ignored_total{reason=\"duplicate\"} 1.0"));
    JsonNode status = http.get("/v1/requests/r1", KEY).json();
    assertThat(status.get("state").asText()).isEqualTo("RUNNING");
    assertThat(status.get("seq").asLong()).isEqualTo(2);
    assertThat(status.get("updatedAt").asText()).isNotBlank();

    // SSE: history, then live, then the end after the terminal event
    List<String> lines = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> streamEnded = follow(http, "/v1/requests/r1/events", null, lines);
    List<String> resumedLines = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> resumedEnded = follow(http, "/v1/requests/r1/events", "2", resumedLines);
    await().atMost(Duration.ofSeconds(10)).until(() -> lines.contains("id:2") && server.queries().liveFollowers() == 2);
    assertThat(streamEnded).isNotDone();

    send(topics.events(), "default/r1", Json.bytes(event("r1", "s1", "default", 3, RequestState.RUNNING)));
    send(topics.events(), "default/r1", Json.bytes(event("r1", "s1", "default", 4, RequestState.COMPLETED)));
    streamEnded.get(20, TimeUnit.SECONDS);
    resumedEnded.get(20, TimeUnit.SECONDS);
    assertThat(ids(lines)).containsExactly("1", "2", "3", "4");
    assertThat(ids(resumedLines)).containsExactly("3", "4");
    Event last = Json.read(dataLines(lines).get(3), Event.class);
    assertThat(last.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(http.get("/v1/requests/r1", KEY).json().get("state").asText()).isEqualTo("COMPLETED");

    // POST lands on the requests topic, keyed by session
    Http.Answer posted = http.post("/v1/requests", KEY, "{\"sessionKey\":\"s9\",\"text\":\"a fox running through a snowy forest at dusk\"}");
    assertThat(posted.status()).isEqualTo(202);
    String requestId = posted.json().get("requestId").asText();
    ConsumerRecord<String, byte[]> record = firstRecord(topics.requests());
    assertThat(record.key()).isEqualTo("s9");
    Request request = Json.read(record.value(), Request.class);
    assertThat(request.requestId()).isEqualTo(requestId);
    assertThat(request.tenant()).isEqualTo("default");

    String metrics = http.get("/metrics", null).body();
    assertThat(metrics).contains("reelay_status_events_consumed_total").contains("reason=\"unreadable\"")
        .contains("reason=\"duplicate\"").contains("reelay_status_store_requests ").contains("reelay_status_ready 1.0");

    // a second instance joins the application: restored from the changelog, it answers for r1 wherever r1 now lives
    StatusServer second = StatusServer.start(testKit.system(), TestStore.inTempDir(settings), bootstrap, topics)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(60)).until(second::isReady);
    Http viaSecond = new Http(second.baseUrl());
    await().atMost(Duration.ofSeconds(60)).until(() -> viaSecond.get("/v1/requests/r1", KEY).status() == 200);
    assertThat(viaSecond.get("/v1/requests/r1", KEY).json().get("seq").asLong()).isEqualTo(4);

    second.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    server.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    assertThat(server.isReady()).isFalse();
  }

  private static CompletableFuture<Void> follow(Http http, String path, String lastEventId, List<String> lines) {
    HttpRequest.Builder b = http.builder(path, KEY).timeout(Duration.ofSeconds(60)).GET();
    if (lastEventId != null) {
      b.header("Last-Event-ID", lastEventId);
    }
    return Http.CLIENT
        .sendAsync(b.build(), HttpResponse.BodyHandlers.ofLines())
        .thenAcceptAsync(
            r -> {
              assertThat(r.statusCode()).isEqualTo(200);
              try (Stream<String> s = r.body()) {
                s.forEach(lines::add);
              }
            });
  }

  private static List<String> ids(List<String> lines) {
    return lines.stream().filter(l -> l.startsWith("id:")).map(l -> l.substring(3).trim()).collect(Collectors.toList());
  }

  private static List<String> dataLines(List<String> lines) {
    return lines.stream()
        .filter(l -> l.startsWith("data:") && l.length() > 5)
        .map(l -> l.substring(5).trim())
        .collect(Collectors.toList());
  }

  private static void createTopics(Topics topics) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(topics.events(), 3, (short) 1), new NewTopic(topics.requests(), 3, (short) 1)))
          .all()
          .get(30, TimeUnit.SECONDS);
    }
  }

  private static void send(String topic, String key, byte[] value) throws Exception {
    producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
  }

  private static ConsumerRecord<String, byte[]> firstRecord(String topic) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("check"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          return r;
        }
      }
    }
    throw new AssertionError("no record on " + topic);
  }
}

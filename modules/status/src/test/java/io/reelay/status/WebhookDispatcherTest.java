package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import com.sun.net.httpserver.HttpServer;
import io.reelay.kafka.TestKafka;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Webhooks against the shared real broker and a real HTTP receiver on loopback: the terminal event
 * of a request with a callback URL is POSTed there, signed; failures are retried or given up as
 * the receiver's answer says; nothing else is sent.
 */
class WebhookDispatcherTest {

  private static final ActorTestKit kit = ActorTestKit.create();
  private static final String SECRET = "test-secret";

  private HttpServer receiver;
  private final BlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
  // per path: the status codes to answer, in order (then 200)
  private final Map<String, List<Integer>> script = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  private WebhookDispatcher dispatcher;
  private String topic;

  private record Delivery(String path, String body, String eventId, String signature) {}

  @BeforeEach
  void start() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/", ex -> {
      String path = ex.getRequestURI().getPath();
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      int n = calls.computeIfAbsent(path, k -> new AtomicInteger()).getAndIncrement();
      List<Integer> codes = script.getOrDefault(path, List.of());
      int code = n < codes.size() ? codes.get(n) : 200;
      if (code == 200) {
        deliveries.add(new Delivery(path, body, ex.getRequestHeaders().getFirst("Reelay-Event-Id"),
            ex.getRequestHeaders().getFirst("Reelay-Signature")));
      }
      ex.sendResponseHeaders(code, -1);
      ex.close();
    });
    receiver.start();
    topic = TestKafka.uniqueName("hooks") + ".completions";
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", TestKafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }
    WebhookDispatcher.Settings settings = new WebhookDispatcher.Settings(true, TestKafka.uniqueName("webhooks"), SECRET, 4,
        Duration.ofSeconds(5), 3, Duration.ofMillis(100), Duration.ofMillis(400),
        Map.of("group.protocol", "consumer", "auto.offset.reset", "earliest"));
    dispatcher = WebhookDispatcher.start(kit.system(), settings, TestKafka.bootstrapServers(), topic);
  }

  @AfterEach
  void stop() throws Exception {
    dispatcher.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    receiver.stop(0);
  }

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aTerminalEventIsPostedSignedToItsCallbackUrlAndNothingElseIsSent() throws Exception {
    String body = "{\"v\":1,\"requestId\":\"r-1\",\"seq\":7,\"state\":\"COMPLETED\"}";
    publish("r-0", "{\"v\":1,\"requestId\":\"r-0\",\"seq\":3,\"state\":\"COMPLETED\"}", null); // no callback
    publish("r-1", body, url("/done"));

    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).as("the webhook of r-1").isNotNull();
    assertThat(d.path()).isEqualTo("/done");
    assertThat(d.body()).isEqualTo(body);
    assertThat(d.eventId()).isEqualTo("r-1:7");
    long t = Long.parseLong(d.signature().replaceAll("^t=(\\d+),v1=.*$", "$1"));
    assertThat(d.signature()).isEqualTo(WebhookDispatcher.signature(SECRET, t, body.getBytes(StandardCharsets.UTF_8)));
    assertThat(deliveries.poll(1, TimeUnit.SECONDS)).as("r-0 has no callback URL").isNull();
  }

  @Test
  void failuresAreRetriedWhenTheReceiverMayRecoverAndGivenUpWhenItRefuses() throws Exception {
    script.put("/flaky", List.of(503, 429));
    script.put("/refuses", List.of(400));
    script.put("/down", List.of(500, 500, 500, 500));
    publish("r-flaky", "{\"requestId\":\"r-flaky\",\"seq\":4}", url("/flaky"));
    publish("r-refuses", "{\"requestId\":\"r-refuses\",\"seq\":4}", url("/refuses"));
    publish("r-down", "{\"requestId\":\"r-down\",\"seq\":4}", url("/down"));
    publish("r-after", "{\"requestId\":\"r-after\",\"seq\":5}", url("/after"));

    Map<String, Delivery> got = new ConcurrentHashMap<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (got.size() < 2 && System.nanoTime() < deadline) {
      Delivery d = deliveries.poll(1, TimeUnit.SECONDS);
      if (d != null) {
        got.put(d.path(), d);
      }
    }
    assertThat(got.keySet()).as("delivered").containsExactlyInAnyOrder("/flaky", "/after");
    assertThat(calls.get("/flaky")).as("503, 429, then 200").hasValue(3);
    Thread.sleep(1_500); // the given-up ones have had their time
    assertThat(calls.get("/refuses")).as("a 400 is final").hasValue(1);
    assertThat(calls.get("/down")).as("max-attempts").hasValue(3);
    assertThat(deliveries).isEmpty();
  }

  @Test
  void aCallbackUrlThatCannotBeSentToIsLoggedOnceWithoutItsQueryAndSkippedAndTheOthersAreDelivered() throws Exception {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(WebhookDispatcher.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    try {
      // all on one partition, the unusable ones between good ones (records from before submit checked URLs)
      publishTo(0, "r-good-1", "{\"requestId\":\"r-good-1\",\"seq\":2}", url("/good-1"));
      publishTo(0, "r-bad-port", "{\"requestId\":\"r-bad-port\",\"seq\":2}", "http://127.0.0.1:99999/hook?token=s3cr3t");
      publishTo(0, "r-bad-space", "{\"requestId\":\"r-bad-space\",\"seq\":2}", url("/a b?token=s3cr3t"));
      publishTo(0, "r-bad-text", "{\"requestId\":\"r-bad-text\",\"seq\":2}", "not a url at all");
      publishTo(0, "r-good-2", "{\"requestId\":\"r-good-2\",\"seq\":2}", url("/good-2"));

      Map<String, Delivery> got = new ConcurrentHashMap<>();
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        Delivery d = deliveries.poll(200, TimeUnit.MILLISECONDS);
        if (d != null) {
          got.put(d.path(), d);
        }
        return got.size() == 2;
      });
      assertThat(got.keySet()).containsExactlyInAnyOrder("/good-1", "/good-2");
      assertThat(got.get("/good-2").eventId()).isEqualTo("r-good-2:2");

      List<String> warnings = logs.list.stream()
          .filter(e -> e.getLevel() == Level.WARN)
          .map(ILoggingEvent::getFormattedMessage)
          .toList();
      assertThat(warnings).filteredOn(w -> w.contains("r-bad-port")).singleElement().asString()
          .contains("127.0.0.1:99999/hook?…").contains("port 99999").contains("skipped");
      assertThat(warnings).filteredOn(w -> w.contains("r-bad-space")).hasSize(1);
      assertThat(warnings).filteredOn(w -> w.contains("r-bad-text")).hasSize(1);
      assertThat(warnings).noneMatch(w -> w.contains("s3cr3t"));
      assertThat(calls).doesNotContainKey("/a b").doesNotContainKey("/a");
    } finally {
      logger.detachAppender(logs);
    }
  }

  @Test
  void theRedactedUrlOfALogHasNoQueryNoCredentialsAndNoControlCharacters() {
    assertThat(WebhookDispatcher.redacted("https://u:pw@example.com:99999/p?token=1#f")).isEqualTo("https://…@example.com:99999/p?…");
    assertThat(WebhookDispatcher.redacted("http://h/a\nb")).isEqualTo("http://h/a?b");
    assertThat(WebhookDispatcher.redacted("http://h/" + "x".repeat(500))).hasSize(201).endsWith("x…");
  }

  private String url(String path) {
    return "http://127.0.0.1:" + receiver.getAddress().getPort() + path;
  }

  private void publish(String key, String value, String callbackUrl) throws Exception {
    publishTo(null, key, value, callbackUrl);
  }

  private void publishTo(Integer partition, String key, String value, String callbackUrl) throws Exception {
    try (KafkaProducer<String, String> p = new KafkaProducer<>(
        Map.of("bootstrap.servers", TestKafka.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
      ProducerRecord<String, String> r = new ProducerRecord<>(topic, partition, key, value);
      if (callbackUrl != null) {
        r.headers().add(io.reelay.protocol.Topics.CALLBACK_URL_HEADER, callbackUrl.getBytes(StandardCharsets.UTF_8));
      }
      p.send(r).get(30, TimeUnit.SECONDS);
    }
  }
}

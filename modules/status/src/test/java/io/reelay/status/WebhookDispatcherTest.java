package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.standardwebhooks.Webhook;
import com.standardwebhooks.exceptions.WebhookVerificationException;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.reelay.kafka.TestKafka;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
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
 * Webhooks against the shared real broker and real HTTP receivers on loopback: the terminal event
 * of a request with a callback URL is POSTed there as a Standard Webhook, signed with its tenant's
 * secrets (checked with the official library); failures are retried or given up as the receiver's
 * answer says; destinations the policy refuses (an address literal, a name that resolves to
 * loopback, a redirect's target) get nothing; a tenant without a secret gets nothing unless
 * unsigned webhooks are allowed.
 */
class WebhookDispatcherTest {

  private static final ActorTestKit kit = ActorTestKit.create();
  private static final String ACME = WebhookSecretsTest.secret(10);
  private static final String DEFAULT = WebhookSecretsTest.secret(11);

  private HttpServer receiver;
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final BlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
  // per path: the status codes to answer, in order (then 200)
  private final Map<String, List<Integer>> script = new ConcurrentHashMap<>();
  // per path: a Location header to answer with
  private final Map<String, String> locations = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  // per path: the headers of every attempt
  private final Map<String, List<Map<String, List<String>>>> attempts = new ConcurrentHashMap<>();
  private final List<WebhookDispatcher> dispatchers = new ArrayList<>();
  private final Logs logs = new Logs();
  private String topic;

  private record Delivery(String path, String body, Map<String, List<String>> headers) {
    String header(String name) {
      return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).map(e -> e.getValue().get(0))
          .findFirst().orElse(null);
    }
  }

  /** Every WARN and INFO of the dispatcher, safe to read while it logs. */
  private static final class Logs extends AppenderBase<ILoggingEvent> {
    final List<ILoggingEvent> events = new CopyOnWriteArrayList<>();

    @Override
    protected void append(ILoggingEvent e) {
      events.add(e);
    }

    List<String> at(Level level) {
      return events.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage).toList();
    }

    List<String> warnings(String containing) {
      return at(Level.WARN).stream().filter(w -> w.contains(containing)).toList();
    }
  }

  @BeforeEach
  void start() throws Exception {
    receiver = receiver("127.0.0.1");
    topic = TestKafka.uniqueName("hooks") + ".completions";
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", TestKafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }
    logs.start();
    logger().addAppender(logs);
  }

  private HttpServer receiver(String address) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(address, 0), 0);
    server.createContext("/", ex -> {
      String path = ex.getRequestURI().getPath();
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      Map<String, List<String>> headers = Map.copyOf(ex.getRequestHeaders());
      attempts.computeIfAbsent(path, k -> new CopyOnWriteArrayList<>()).add(headers);
      int n = calls.computeIfAbsent(path, k -> new AtomicInteger()).getAndIncrement();
      List<Integer> codes = script.getOrDefault(path, List.of());
      int code = n < codes.size() ? codes.get(n) : 200;
      if (code == 200) {
        deliveries.add(new Delivery(path, body, headers));
      }
      if (locations.containsKey(path)) {
        ex.getResponseHeaders().add("Location", locations.get(path));
      }
      ex.sendResponseHeaders(code, -1);
      ex.close();
    });
    server.start();
    return server;
  }

  @AfterEach
  void stop() throws Exception {
    for (WebhookDispatcher d : dispatchers) {
      d.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    receiver.stop(0);
    logger().detachAppender(logs);
  }

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  private static ch.qos.logback.classic.Logger logger() {
    return (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(WebhookDispatcher.class);
  }

  /** Tenants acme and default have a secret, the receiver's address 127.0.0.1 is allowed, 3 attempts. */
  private static WebhookSettings settings() {
    return new WebhookSettings(true, TestKafka.uniqueName("webhooks"),
        WebhookSecrets.parse("acme=" + ACME + ",default=" + DEFAULT), false, WebhookTargets.parse("127.0.0.1/32"), 4,
        Duration.ofSeconds(5), 3, Duration.ofMillis(100), Duration.ofMillis(400),
        Map.of("group.protocol", "consumer", "auto.offset.reset", "earliest"));
  }

  /** Starts a dispatcher (a consumer group of its own, from the topic's beginning). */
  private void dispatch(WebhookSettings settings) {
    dispatchers.add(WebhookDispatcher.start(kit.system(), settings, TestKafka.bootstrapServers(), topic, meters));
  }

  @Test
  void aTerminalEventIsPostedAsAStandardWebhookSignedWithItsTenantsSecretAndNothingElseIsSent() throws Exception {
    dispatch(settings());
    String body = "{\"v\":1,\"requestId\":\"r-1\",\"tenant\":\"acme\",\"seq\":7,\"state\":\"COMPLETED\"}";
    // r-0 names a URL in its event but has no callback header: the URL of a webhook comes from the
    // header the worker wrote from the request, never from an event's content
    publishTo(0, "r-0", "{\"v\":1,\"requestId\":\"r-0\",\"tenant\":\"acme\",\"seq\":3,\"state\":\"COMPLETED\","
        + "\"callbackUrl\":\"" + url("/smuggled") + "\"}", null);
    publishTo(0, "r-1", body, url("/done")); // after r-0 on the same partition: once r-1 is delivered, r-0 was read

    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).as("the webhook of r-1").isNotNull();
    assertThat(d.path()).isEqualTo("/done");
    assertThat(d.body()).isEqualTo(body);
    assertThat(d.header("webhook-id")).isEqualTo(WebhookSecrets.webhookId("acme", "r-1", 7));
    assertThat(Long.parseLong(d.header("webhook-timestamp"))).isCloseTo(System.currentTimeMillis() / 1000, org.assertj.core.data.Offset.offset(300L));
    assertThat(d.header("webhook-signature")).startsWith("v1,").doesNotContain(" ");
    assertThatCode(() -> new Webhook(ACME).verify(d.body(), d.headers())).as("acme's secret").doesNotThrowAnyException();
    assertThatThrownBy(() -> new Webhook(DEFAULT).verify(d.body(), d.headers())).as("another tenant's secret")
        .isInstanceOf(WebhookVerificationException.class);
    assertThat(d.headers().keySet()).noneMatch(h -> h.toLowerCase().startsWith("reelay-"));
    assertThat(calls).as("r-0 has no callback header").containsOnlyKeys("/done");
    assertThat(deliveries).isEmpty();
  }

  @Test
  void duringARotationEveryWebhookCarriesASignatureForEachSecret() throws Exception {
    String next = WebhookSecretsTest.NEW;
    String previous = WebhookSecretsTest.OLD;
    dispatch(settings().withSecrets(WebhookSecrets.parse("rot=" + next + ",acme=" + ACME + ",rot=" + previous)));
    String body = "{\"requestId\":\"r-rot\",\"tenant\":\"rot\",\"seq\":2,\"state\":\"FAILED\"}";
    publish("r-rot", body, url("/rot"));

    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).isNotNull();
    String[] signatures = d.header("webhook-signature").split(" ");
    assertThat(signatures).hasSize(2).allMatch(s -> s.startsWith("v1,"));
    assertThatCode(() -> new Webhook(next).verify(body, d.headers())).doesNotThrowAnyException();
    assertThatCode(() -> new Webhook(previous).verify(body, d.headers())).doesNotThrowAnyException();
    assertThatThrownBy(() -> new Webhook(ACME).verify(body, d.headers())).isInstanceOf(WebhookVerificationException.class);
  }

  @Test
  void failuresAreRetriedWithTheSameWebhookIdWhenTheReceiverMayRecoverAndGivenUpWhenItRefuses() throws Exception {
    dispatch(settings());
    script.put("/flaky", List.of(503, 429));
    script.put("/refuses", List.of(400));
    script.put("/down", List.of(500, 500, 500, 500));
    publish("r-flaky", "{\"requestId\":\"r-flaky\",\"seq\":4}", url("/flaky"));
    publish("r-refuses", "{\"requestId\":\"r-refuses\",\"seq\":4}", url("/refuses"));
    publish("r-down", "{\"requestId\":\"r-down\",\"seq\":4}", url("/down"));
    publish("r-after", "{\"requestId\":\"r-after\",\"seq\":5}", url("/after"));

    Map<String, Delivery> got = awaitDeliveries(2);
    assertThat(got.keySet()).as("delivered").containsExactlyInAnyOrder("/flaky", "/after");
    assertThat(calls.get("/flaky")).as("503, 429, then 200").hasValue(3);
    String flakyId = WebhookSecrets.webhookId("default", "r-flaky", 4);
    assertThat(attempts.get("/flaky")).as("every attempt, the same id, freshly signed")
        .allSatisfy(h -> {
          assertThat(h.get("Webhook-id")).containsExactly(flakyId);
          assertThatCode(() -> new Webhook(DEFAULT).verify("{\"requestId\":\"r-flaky\",\"seq\":4}", h)).doesNotThrowAnyException();
        });
    assertThat(got.get("/after").header("webhook-id")).isNotEqualTo(flakyId);

    await("the final and the exhausted ones are given up").atMost(Duration.ofSeconds(30))
        .until(() -> !logs.warnings("r-refuses").isEmpty() && !logs.warnings("r-down").isEmpty());
    assertThat(logs.warnings("r-refuses")).singleElement().asString().contains("given up after 1 attempt(s): HTTP 400");
    assertThat(calls.get("/refuses")).as("a 400 is final").hasValue(1);
    assertThat(logs.warnings("r-down")).singleElement().asString().contains("given up after 3 attempt(s): HTTP 500");
    assertThat(calls.get("/down")).as("max-attempts").hasValue(3);
    assertThat(deliveries).isEmpty();
    // flaky and after delivered; refuses and down given up; 2 retries of flaky, 2 of down
    assertThat(meters.get("reelay_status_webhooks").tag("outcome", "delivered").counter().count()).isEqualTo(2);
    assertThat(meters.get("reelay_status_webhooks").tag("outcome", "given_up").counter().count()).isEqualTo(2);
    assertThat(meters.get("reelay_status_webhooks").tag("outcome", "retried").counter().count()).isEqualTo(4);
  }

  @Test
  void aWebhookNotDeliveredWhenItsDispatcherStopsIsSentAfterTheRestartAndADeliveredOneIsNotSentAgain() throws Exception {
    // one group for both runs; so many attempts that r-busy is still being retried when the first run stops
    WebhookSettings s = settings();
    WebhookSettings patient = new WebhookSettings(true, s.groupId(), s.secrets(), false, s.targets(), s.parallelism(),
        s.perDestinationParallelism(), s.timeout(), 1000, Duration.ofMillis(50), Duration.ofMillis(100), s.consumerProperties());
    script.put("/busy", java.util.Collections.nCopies(1000, 503));
    dispatch(patient);
    publishTo(0, "r-sent", "{\"requestId\":\"r-sent\",\"seq\":2}", url("/sent"));
    publishTo(0, "r-busy", "{\"requestId\":\"r-busy\",\"seq\":2}", url("/busy"));
    Delivery sent = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(sent).isNotNull();
    assertThat(sent.path()).isEqualTo("/sent");
    await("r-busy retried").atMost(Duration.ofSeconds(30)).until(() -> calls.containsKey("/busy") && calls.get("/busy").get() >= 2);

    // a restart (stop, then a dispatcher of the same group): r-busy was never delivered, so it is sent again
    dispatchers.remove(0).stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    script.put("/busy", List.of()); // the receiver is well again
    dispatch(patient);
    Delivery busy = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(busy).as("r-busy after the restart").isNotNull();
    assertThat(busy.path()).isEqualTo("/busy");
    assertThat(busy.header("webhook-id")).as("the same webhook").isEqualTo(WebhookSecrets.webhookId("default", "r-busy", 2));
    // r-sent comes before r-busy on the partition: had it been sent again, it would have been by now
    assertThat(attempts.get("/sent")).as("r-sent, delivered before the restart").hasSize(1);
    assertThat(deliveries).isEmpty();
  }

  @Test
  void aReceiverThatCannotBeReachedIsRetriedAndThenGivenUp() throws Exception {
    dispatch(settings());
    int closed;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      closed = free.getLocalPort(); // nothing listens there once it is closed: connection refused
    }
    publishTo(0, "r-unreachable", "{\"requestId\":\"r-unreachable\",\"seq\":2}", "http://127.0.0.1:" + closed + "/hook");
    publishTo(0, "r-next", "{\"requestId\":\"r-next\",\"seq\":2}", url("/next"));
    await("given up").atMost(Duration.ofSeconds(60)).until(() -> !logs.warnings("r-unreachable").isEmpty());
    assertThat(logs.warnings("r-unreachable")).singleElement().asString().contains("given up after 3 attempt(s)");
    assertThat(meters.get("reelay_status_webhooks").tag("outcome", "retried").counter().count()).isEqualTo(2);
    Delivery next = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(next).as("the next one is delivered").isNotNull();
    assertThat(next.path()).isEqualTo("/next");
  }

  @Test
  void aReceiverOnLoopbackIsReachedOnlyWhenItsAddressIsAllowed() throws Exception {
    dispatch(settings().withTargets(WebhookTargets.strict()));
    publish("r-loop", "{\"requestId\":\"r-loop\",\"seq\":1}", url("/loop?token=s3cr3t"));
    await("refused").atMost(Duration.ofSeconds(60)).until(() -> !logs.warnings("r-loop").isEmpty());
    assertThat(logs.warnings("r-loop")).singleElement().asString()
        .contains("is refused: 127.0.0.1 is a loopback address").contains("reelay.webhooks.allow").contains("skipped")
        .doesNotContain("s3cr3t");
    assertThat(calls).doesNotContainKey("/loop");

    dispatch(settings()); // 127.0.0.1/32 allowed: another group reads the same record
    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).isNotNull();
    assertThat(d.path()).isEqualTo("/loop");
  }

  @Test
  void aHostNameThatResolvesToLoopbackIsGivenUpAtOnceUnlessTheNameIsAllowed() throws Exception {
    dispatch(settings().withTargets(WebhookTargets.strict()));
    String localhost = "http://localhost:" + receiver.getAddress().getPort() + "/local?token=s3cr3t";
    publish("r-local", "{\"requestId\":\"r-local\",\"seq\":1}", localhost);
    await("given up").atMost(Duration.ofSeconds(60)).until(() -> !logs.warnings("r-local").isEmpty());
    assertThat(logs.warnings("r-local")).singleElement().asString()
        .contains("to localhost given up after 1 attempt(s)")
        .contains("localhost resolves to 127.0.0.1, a loopback address")
        .contains("not retried")
        .doesNotContain("s3cr3t");
    assertThat(logs.at(Level.INFO)).noneMatch(i -> i.contains("r-local"));
    assertThat(calls).doesNotContainKey("/local");

    dispatch(settings().withTargets(WebhookTargets.parse("localhost"))); // the name, whatever it resolves to
    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).isNotNull();
    assertThat(d.path()).isEqualTo("/local");
  }

  @Test
  void aRedirectIsFinalAndNeverFollowed() throws Exception {
    HttpServer internal = receiver("127.0.0.2"); // loopback too, but not on the allow list
    try {
      dispatch(settings());
      script.put("/to-internal", List.of(302));
      locations.put("/to-internal", "http://127.0.0.2:" + internal.getAddress().getPort() + "/stolen");
      script.put("/to-allowed", List.of(307));
      locations.put("/to-allowed", url("/moved"));
      publishTo(0, "r-internal", "{\"requestId\":\"r-internal\",\"seq\":1}", url("/to-internal"));
      publishTo(0, "r-allowed", "{\"requestId\":\"r-allowed\",\"seq\":1}", url("/to-allowed"));

      await("both given up").atMost(Duration.ofSeconds(60))
          .until(() -> !logs.warnings("r-internal").isEmpty() && !logs.warnings("r-allowed").isEmpty());
      assertThat(logs.warnings("r-internal")).singleElement().asString()
          .contains("given up after 1 attempt(s): HTTP 302").contains("never followed");
      assertThat(logs.warnings("r-allowed")).singleElement().asString().contains("given up after 1 attempt(s): HTTP 307");
      assertThat(calls.get("/to-internal")).hasValue(1);
      assertThat(calls.get("/to-allowed")).hasValue(1);
      assertThat(calls).doesNotContainKeys("/stolen", "/moved");
      assertThat(deliveries).isEmpty();
    } finally {
      internal.stop(0);
    }
  }

  @Test
  void aTenantWithoutASecretGetsNoWebhooksUnlessUnsignedOnesAreAllowed() throws Exception {
    dispatch(settings());
    String body = "{\"requestId\":\"r-stranger\",\"tenant\":\"stranger\",\"seq\":3,\"state\":\"COMPLETED\"}";
    publishTo(0, "r-stranger", body, url("/stranger?token=s3cr3t"));
    await("skipped").atMost(Duration.ofSeconds(60)).until(() -> !logs.warnings("r-stranger").isEmpty());
    assertThat(logs.warnings("r-stranger")).singleElement().asString()
        .contains("tenant stranger has no secret").contains("REELAY_WEBHOOK_SECRETS").contains("skipped")
        .doesNotContain("s3cr3t");
    assertThat(calls).doesNotContainKey("/stranger");

    dispatch(settings().withAllowUnsigned(true));
    Delivery d = deliveries.poll(60, TimeUnit.SECONDS);
    assertThat(d).isNotNull();
    assertThat(d.path()).isEqualTo("/stranger");
    assertThat(d.header("webhook-id")).isEqualTo(WebhookSecrets.webhookId("stranger", "r-stranger", 3));
    assertThat(d.header("webhook-timestamp")).matches("\\d+");
    assertThat(d.header("webhook-signature")).isNull();
  }

  @Test
  void aCallbackUrlThatCannotBeSentToIsLoggedOnceWithoutItsQueryAndSkippedAndTheOthersAreDelivered() throws Exception {
    dispatch(settings());
    // all on one partition, the unusable ones between good ones (records from before submit checked URLs)
    publishTo(0, "r-good-1", "{\"requestId\":\"r-good-1\",\"seq\":2}", url("/good-1"));
    publishTo(0, "r-bad-port", "{\"requestId\":\"r-bad-port\",\"seq\":2}", "http://127.0.0.1:99999/hook?token=s3cr3t");
    publishTo(0, "r-bad-space", "{\"requestId\":\"r-bad-space\",\"seq\":2}", url("/a b?token=s3cr3t"));
    publishTo(0, "r-bad-text", "{\"requestId\":\"r-bad-text\",\"seq\":2}", "not a url at all");
    publishTo(0, "r-bad-meta", "{\"requestId\":\"r-bad-meta\",\"seq\":2}", "http://169.254.169.254/latest/meta-data?token=s3cr3t");
    publishTo(0, "r-bad-json", "not json", url("/bad-json"));
    publishTo(0, "r-good-2", "{\"requestId\":\"r-good-2\",\"seq\":2}", url("/good-2"));

    Map<String, Delivery> got = awaitDeliveries(2);
    assertThat(got.keySet()).containsExactlyInAnyOrder("/good-1", "/good-2");
    assertThat(got.get("/good-2").header("webhook-id")).isEqualTo(WebhookSecrets.webhookId("default", "r-good-2", 2));

    await().atMost(Duration.ofSeconds(10)).until(() -> !logs.warnings("r-bad-json").isEmpty());
    List<String> warnings = logs.at(Level.WARN);
    assertThat(warnings).filteredOn(w -> w.contains("r-bad-port")).singleElement().asString()
        .contains("127.0.0.1:99999/hook?…").contains("port 99999").contains("skipped");
    assertThat(warnings).filteredOn(w -> w.contains("r-bad-space")).hasSize(1);
    assertThat(warnings).filteredOn(w -> w.contains("r-bad-text")).hasSize(1);
    assertThat(warnings).filteredOn(w -> w.contains("r-bad-meta")).singleElement().asString().contains("link-local");
    assertThat(warnings).filteredOn(w -> w.contains("r-bad-json")).singleElement().asString().contains("not JSON");
    assertThat(warnings).noneMatch(w -> w.contains("s3cr3t"));
    assertThat(calls).doesNotContainKeys("/a b", "/a", "/bad-json");
  }

  @Test
  void theRedactedUrlOfALogHasNoQueryNoCredentialsAndNoControlCharacters() {
    assertThat(WebhookDispatcher.redacted("https://u:pw@example.com:99999/p?token=1#f")).isEqualTo("https://…@example.com:99999/p?…");
    assertThat(WebhookDispatcher.redacted("http://h/a\nb")).isEqualTo("http://h/a?b");
    assertThat(WebhookDispatcher.redacted("http://h/" + "x".repeat(500))).hasSize(201).endsWith("x…");
  }

  /** The next {@code n} deliveries, by path. */
  private Map<String, Delivery> awaitDeliveries(int n) {
    Map<String, Delivery> got = new ConcurrentHashMap<>();
    await().atMost(Duration.ofSeconds(60)).until(() -> {
      Delivery d = deliveries.poll(200, TimeUnit.MILLISECONDS);
      if (d != null) {
        got.put(d.path(), d);
      }
      return got.size() == n;
    });
    return got;
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

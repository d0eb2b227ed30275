package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two tenants on one fleet (a real broker, a worker, the simulator, the status service): neither
 * reaches the other's requests, nor the inside of the network through a webhook, nor holds more of
 * the service than its share.
 */
class TenantIsolationTest {

  private static final String KEY_A = "key-of-a";
  private static final String KEY_B = "key-of-b";
  private static final int WATCHERS = 3;
  private static final HttpClient http = HttpClient.newHttpClient();

  private static LocalStack stack;
  private static Topics topics;
  private static String webhookGroup;
  private static HttpServer receiver;
  private static final AtomicInteger received = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/", ex -> {
      received.incrementAndGet();
      ex.sendResponseHeaders(204, -1);
      ex.close();
    });
    receiver.start();
    topics = Topics.withPrefix(TestKafka.uniqueName("tenants"));
    webhookGroup = TestKafka.uniqueName("webhooks");
    Config base = ConfigFactory.parseMap(Map.of(
            "reelay.worker.group-id", TestKafka.uniqueName("workers"),
            "reelay.status.api-keys", KEY_A + "=tenant-a," + KEY_B + "=tenant-b",
            "reelay.status.limits.sse-watchers-per-tenant", WATCHERS,
            "reelay.webhooks.group-id", webhookGroup,
            "reelay.webhooks.secrets", "tenant-a=" + secret() + ",tenant-b=" + secret(),
            "reelay.webhooks.allow", "")) // nothing inside the network is a webhook destination
        .withFallback(ConfigFactory.load());
    stack = LocalStack.start(base, new LocalStack.Options(null, 0, TestKafka.bootstrapServers(), 0, 0, 1, 0.005, null, topics, 3));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
    if (receiver != null) {
      receiver.stop(0);
    }
  }

  @Test
  void webhooksToAddressesInsideTheNetworkAreRefusedAtSubmitAndANameResolvingToLoopbackIsNeverPosted() throws Exception {
    String sim = URI.create(stack.simUrl()).getPort() + "";
    for (String url : List.of(
        "http://127.0.0.1:" + sim + "/_sim/reset",
        "http://[::1]:" + sim + "/",
        "http://[::ffff:127.0.0.1]:" + sim + "/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0:" + sim + "/")) {
      Answer a = post(KEY_A, "{\"sessionKey\":\"ssrf\",\"action\":\"credits\",\"callbackUrl\":\"" + url + "\"}");
      assertThat(a.status()).as(url).isEqualTo(400);
      assertThat(a.json().path("error").path("message").asText()).as(url).contains("reelay.webhooks.allow");
    }
    // short forms that name loopback are not valid host names: refused as such
    assertThat(post(KEY_A, "{\"sessionKey\":\"ssrf\",\"action\":\"credits\",\"callbackUrl\":\"http://127.1:" + sim + "/\"}").status())
        .isEqualTo(400);

    // a host name is resolved at delivery: localhost is loopback, so the webhook is given up
    String hook = "http://localhost:" + receiver.getAddress().getPort() + "/hook";
    Answer accepted = post(KEY_A, "{\"sessionKey\":\"ssrf\",\"action\":\"credits\",\"callbackUrl\":\"" + hook + "\"}");
    assertThat(accepted.status()).isEqualTo(202);
    String id = accepted.json().path("requestId").asText();
    assertThat(awaitTerminal(KEY_A, id).path("state").asText()).isEqualTo("COMPLETED");
    // the dispatcher committed past the completion (delivered or given up), and nothing reached the receiver
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> allCommitted(admin));
    }
    assertThat(received).hasValue(0);
  }

  @Test
  void theSameRequestIdInTwoTenantsIsTwoRequestsAndNeitherSeesTheOther() throws Exception {
    String id = "same-" + UUID.randomUUID();
    Answer b = post(KEY_B, "{\"requestId\":\"" + id + "\",\"sessionKey\":\"shared\",\"action\":\"credits\"}");
    assertThat(b.status()).isEqualTo(202);
    JsonNode bDone = awaitTerminal(KEY_B, id);
    assertThat(bDone.path("state").asText()).isEqualTo("COMPLETED");

    // tenant a reuses b's finished requestId and sessionKey: a request of its own, run anew
    Answer a = post(KEY_A, "{\"requestId\":\"" + id + "\",\"sessionKey\":\"shared\",\"action\":\"state\"}");
    assertThat(a.status()).isEqualTo(202);
    JsonNode aDone = awaitTerminal(KEY_A, id);
    assertThat(aDone.path("state").asText()).isEqualTo("COMPLETED");
    assertThat(aDone.path("tenant").asText()).isEqualTo("tenant-a");

    JsonNode bAgain = get(KEY_B, "/v1/requests/" + id).json();
    assertThat(bAgain.path("tenant").asText()).isEqualTo("tenant-b");
    assertThat(bAgain.path("seq").asLong()).isEqualTo(bDone.path("seq").asLong());
    assertThat(bAgain.path("result")).isEqualTo(bDone.path("result"));

    List<JsonNode> aEvents = events(KEY_A, id);
    List<JsonNode> bEvents = events(KEY_B, id);
    assertThat(aEvents).isNotEmpty().allSatisfy(e -> assertThat(e.path("tenant").asText()).isEqualTo("tenant-a"));
    assertThat(bEvents).isNotEmpty().allSatisfy(e -> assertThat(e.path("tenant").asText()).isEqualTo("tenant-b"));
    assertThat(get(KEY_A, "/v1/sessions/shared").json().path("requests"))
        .allSatisfy(r -> assertThat(r.path("tenant").asText()).isEqualTo("tenant-a"));
  }

  @Test
  void oneTenantsWatcherFloodIs429WithRetryAfterAndTheOtherTenantStillWatches() throws Exception {
    // a request that stays open: its stream has no end until the test closes it
    Answer slow = post(KEY_A, "{\"sessionKey\":\"watch\",\"text\":\"a fox in the snow [sim:hang]\"}");
    assertThat(slow.status()).isEqualTo(202);
    String id = slow.json().path("requestId").asText();
    await().atMost(Duration.ofSeconds(30)).until(() -> get(KEY_A, "/v1/requests/" + id).status() == 200);
    List<Socket> open = new ArrayList<>();
    try {
      for (int i = 0; i < WATCHERS; i++) {
        open.add(openStream(KEY_A, id, 200));
      }
      Answer flood = get(KEY_A, "/v1/requests/" + id + "/events");
      assertThat(flood.status()).isEqualTo(429);
      assertThat(flood.raw().headers().firstValue("Retry-After")).isPresent();
      assertThat(flood.json().path("error").path("message").asText()).contains("sse-watchers-per-tenant");
      // tenant b's own request is another tenant's share
      Answer bReq = post(KEY_B, "{\"sessionKey\":\"watch\",\"action\":\"credits\"}");
      String bId = bReq.json().path("requestId").asText();
      awaitTerminal(KEY_B, bId);
      open.add(openStream(KEY_B, bId, 200));
    } finally {
      for (Socket s : open) {
        s.close();
      }
    }
  }

  @Test
  void anOversizedBodyIs413AndPublishesNothing() throws Exception {
    int before = get(KEY_B, "/v1/requests?limit=1000").json().path("count").asInt();
    String big = "{\"sessionKey\":\"big\",\"text\":\"" + "x".repeat(300 * 1024) + "\"}";
    Answer a = post(KEY_B, big);
    assertThat(a.status()).isEqualTo(413);
    assertThat(a.json().path("error").path("message").asText()).contains("reelay.status.limits.max-body-bytes");
    // a marker request after it lands, and the oversized one did not
    Answer marker = post(KEY_B, "{\"sessionKey\":\"big\",\"action\":\"credits\"}");
    awaitTerminal(KEY_B, marker.json().path("requestId").asText());
    JsonNode listing = get(KEY_B, "/v1/requests?session=big").json();
    assertThat(listing.path("count").asInt()).isEqualTo(1);
    assertThat(get(KEY_B, "/v1/requests?limit=1000").json().path("count").asInt()).isLessThanOrEqualTo(before + 2);
  }

  // ------------------------------------------------------------------ helpers

  private record Answer(int status, String body, HttpResponse<String> raw) {
    JsonNode json() {
      return Json.read(body, JsonNode.class);
    }
  }

  private static String secret() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return "whsec_" + Base64.getEncoder().encodeToString(b);
  }

  private static boolean allCommitted(Admin admin) throws Exception {
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin.listConsumerGroupOffsets(webhookGroup).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
    List<TopicPartition> tps = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      tps.add(new TopicPartition(topics.completions(), p));
    }
    Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
    tps.forEach(tp -> latest.put(tp, OffsetSpec.latest()));
    var ends = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
    for (TopicPartition tp : tps) {
      long end = ends.get(tp).offset();
      OffsetAndMetadata c = committed.get(tp);
      if (end > 0 && (c == null || c.offset() < end)) {
        return false;
      }
    }
    return true;
  }

  private static Answer post(String key, String body) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests"))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body(), r);
  }

  private static Answer get(String key, String path) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(stack.statusUrl() + path)).header("Authorization", "Bearer " + key).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body(), r);
  }

  private static JsonNode awaitTerminal(String key, String requestId) {
    AtomicReference<JsonNode> last = new AtomicReference<>();
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
      Answer a = get(key, "/v1/requests/" + requestId);
      if (a.status() != 200) {
        return false;
      }
      last.set(a.json());
      String state = a.json().path("state").asText();
      return List.of("COMPLETED", "FAILED", "CANCELLED", "REJECTED").contains(state);
    });
    return last.get();
  }

  /** The events of a finished request, from its SSE stream (which ends after the terminal event). */
  private static List<JsonNode> events(String key, String requestId) throws Exception {
    Answer a = get(key, "/v1/requests/" + requestId + "/events");
    assertThat(a.status()).isEqualTo(200);
    List<JsonNode> out = new ArrayList<>();
    for (String line : a.body().split("\n")) {
      if (line.startsWith("data:")) {
        out.add(Json.read(line.substring(5).trim(), JsonNode.class));
      }
    }
    return out;
  }

  /** A live stream on a raw socket, left open; fails unless its status is {@code expected}. */
  private static Socket openStream(String key, String requestId, int expected) throws Exception {
    URI u = URI.create(stack.statusUrl());
    Socket s = new Socket(u.getHost(), u.getPort());
    s.setSoTimeout(10_000);
    s.getOutputStream().write(("GET /v1/requests/" + requestId + "/events HTTP/1.1\r\nHost: " + u.getHost()
        + "\r\nAuthorization: Bearer " + key + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    String status = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    assertThat(status).as("live stream of " + requestId).contains(" " + expected + " ");
    return s;
  }
}

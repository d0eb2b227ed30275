package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestValidation;
import io.reelay.protocol.Topics;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.model.Uri;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/requests} against the real broker: Idempotency-Key (same key → same request,
 * one record; per tenant; bounded and forgotten after the retention), a publish Kafka does not
 * acknowledge in time (503 with the requestId, then a safe retry), and callback URLs refused at
 * submit.
 */
class SubmitKafkaTest {

  static final String KEY_A = "submit-key-a";
  static final String KEY_B = "submit-key-b";
  static final ActorTestKit testKit = ActorTestKit.create();
  static final List<StatusServer> servers = new ArrayList<>();
  static Topics topics;
  static String baseUrl;
  static Http http;

  @BeforeAll
  static void start() throws Exception {
    topics = Topics.withPrefix(TestKafka.uniqueName("submit"));
    createTopics(topics);
    baseUrl = ready(start(StatusSettings.defaults(), topics)).baseUrl();
    http = new Http(baseUrl);
  }

  @AfterAll
  static void stop() throws Exception {
    for (StatusServer s : servers) {
      s.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    testKit.shutdownTestKit();
  }

  @Test
  void theSameKeyFromTheSameTenantAnswersTheSameRequestAndPublishesItOnce() throws Exception {
    String body = "{\"sessionKey\":\"s-idem\",\"text\":\"a fox at dusk\"}";
    Http.Answer first = post(http, KEY_A, body, "order-42");
    assertThat(first.status()).isEqualTo(202);
    String id = first.json().get("requestId").asText();

    Http.Answer again = post(http, KEY_A, "{ \"text\": \"a fox at dusk\", \"sessionKey\": \"s-idem\" }", "order-42");
    assertThat(again.status()).as("the same body, fields in another order").isEqualTo(202);
    assertThat(again.body()).isEqualTo(first.body());
    assertThat(again.raw().headers().firstValue("Idempotent-Replayed")).hasValue("true");

    Http.Answer otherBody = post(http, KEY_A, "{\"sessionKey\":\"s-idem\",\"text\":\"a cat\"}", "order-42");
    assertThat(otherBody.status()).isEqualTo(422);
    assertThat(otherBody.errorCode()).isEqualTo("IDEMPOTENCY_KEY_REUSED");

    Http.Answer otherTenant = post(http, KEY_B, body, "order-42");
    assertThat(otherTenant.status()).isEqualTo(202);
    String idOfB = otherTenant.json().get("requestId").asText();
    assertThat(idOfB).as("another tenant's key is another key").isNotEqualTo(id);

    // a burst of the same submission at once: one request
    List<CompletableFuture<HttpResponse<String>>> burst = IntStream.range(0, 8)
        .mapToObj(i -> Http.CLIENT.sendAsync(request(http, KEY_A, body, "burst-1"), HttpResponse.BodyHandlers.ofString()))
        .toList();
    List<String> burstIds = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> f : burst) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(202);
      burstIds.add(Json.mapper().readTree(r.body()).get("requestId").asText());
    }
    assertThat(burstIds).containsOnly(burstIds.get(0));

    Http.Answer noKey = post(http, KEY_A, body, null);
    assertThat(noKey.status()).isEqualTo(202);
    String last = noKey.json().get("requestId").asText();

    List<Request> published = requests(topics.requests(), "s-idem", last);
    assertThat(published).extracting(Request::requestId).containsExactly(id, idOfB, burstIds.get(0), last);
    assertThat(published.get(1).tenant()).isEqualTo("tenant-b");
  }

  @Test
  void anAcceptedRequestIsVisibleAtOnceAsSubmittedOnThisInstanceAndEveryOther() throws Exception {
    Http.Answer posted = post(http, KEY_A, "{\"sessionKey\":\"s-vis\",\"text\":\"a fox at dusk\"}", null);
    assertThat(posted.status()).isEqualTo(202);
    String id = posted.json().get("requestId").asText();
    // no worker runs here: only the status service has said anything about it
    Http.Answer now = http.get("/v1/requests/" + id, KEY_A);
    assertThat(now.status()).as("GET right after the 202").isEqualTo(200);
    assertThat(now.json().get("state").asText()).isEqualTo("SUBMITTED");
    assertThat(now.json().get("seq").asLong()).isZero();
    assertThat(firstEvent(http, KEY_A, id).get("state").asText()).isEqualTo("SUBMITTED");
    assertThat(http.get("/v1/requests/" + id, KEY_B).status()).as("another tenant").isEqualTo(404);

    // another instance of the deployment answers it too, from the stores (once its join's rebalance settled)
    Http other = new Http(ready(start(StatusSettings.defaults(), topics)).baseUrl());
    await().atMost(Duration.ofSeconds(30)).until(() -> other.get("/v1/requests/" + id, KEY_A).status() == 200);
    await().atMost(Duration.ofSeconds(30)).until(() -> eventsAnswer(other, KEY_A, id) == 200);
    assertThat(firstEvent(other, KEY_A, id).get("seq").asLong()).isZero();
  }

  /** The status code of {@code id}'s live stream (closed at once). */
  private static int eventsAnswer(Http h, String key, String id) throws Exception {
    HttpResponse<java.util.stream.Stream<String>> r =
        Http.CLIENT.send(h.builder("/v1/requests/" + id + "/events", key).GET().build(), HttpResponse.BodyHandlers.ofLines());
    r.body().close();
    return r.statusCode();
  }

  /** The first event of {@code id}'s live stream (which stays open: the request is not finished). */
  private static com.fasterxml.jackson.databind.JsonNode firstEvent(Http h, String key, String id) throws Exception {
    HttpResponse<java.util.stream.Stream<String>> r =
        Http.CLIENT.send(h.builder("/v1/requests/" + id + "/events", key).GET().build(), HttpResponse.BodyHandlers.ofLines());
    assertThat(r.statusCode()).isEqualTo(200);
    try (java.util.stream.Stream<String> lines = r.body()) {
      String data = lines.filter(l -> l.startsWith("data:")).findFirst().orElseThrow();
      return Json.mapper().readTree(data.substring(5).trim());
    }
  }

  @Test
  void aKeyIsAtMost255CharactersWithoutControlCharacters() throws Exception {
    String body = "{\"sessionKey\":\"s-keys\",\"text\":\"a fox at dusk\"}";
    Http.Answer tooLong = post(http, KEY_A, body, "k".repeat(256));
    assertThat(tooLong.status()).isEqualTo(400);
    assertThat(tooLong.errorMessage()).isEqualTo("Idempotency-Key is longer than 255 characters");
    Http.Answer tab = post(http, KEY_A, body, "ab\tcd");
    assertThat(tab.status()).isEqualTo(400);
    assertThat(tab.errorMessage()).as("the HTTP layer hands a tab over as a space")
        .isEqualTo("Idempotency-Key must not contain spaces or tabs (found one at index 2)");
    assertThat(rawPost("ab\u007fcd")).startsWith("HTTP/1.1 400 ").contains("Idempotency-Key must not contain control characters");
    assertThat(rawPost("ab\u0001cd")).as("refused by pekko-http before the route").startsWith("HTTP/1.1 400 ");
    assertThat(post(http, KEY_A, body, "k".repeat(255)).status()).isEqualTo(202);

    assertThat(IdempotencyKeys.problem("")).isEqualTo("Idempotency-Key must not be empty");
    assertThat(IdempotencyKeys.problem("a\u0001b")).contains("control characters");
    assertThat(IdempotencyKeys.problem("a\u007fb")).contains("control characters");
    assertThat(IdempotencyKeys.problem("a\u0085b")).contains("control characters");
    assertThat(IdempotencyKeys.problem("0f8fad5b-d9cb-469f-a165-70867728950e")).isNull();
  }

  @Test
  void aPublishKafkaDoesNotAcknowledgeInTimeAnswers503WithTheRequestIdAndTheSameKeyRetriesItSafely() throws Exception {
    Topics missing = Topics.withPrefix(TestKafka.uniqueName("late")); // no requests topic yet: sends wait for it
    Http late = new Http(start(StatusSettings.defaults().withPublishTimeout(Duration.ofSeconds(1)), missing).baseUrl());
    String body = "{\"sessionKey\":\"s-late\",\"text\":\"a fox at dusk\"}";

    Http.Answer timedOut = post(late, KEY_A, body, "retry-me");
    assertThat(timedOut.status()).isEqualTo(503);
    assertThat(timedOut.errorCode()).isEqualTo("UNAVAILABLE");
    assertThat(timedOut.raw().headers().firstValue("Retry-After")).hasValue("5");
    String id = timedOut.json().get("requestId").asText();
    assertThat(id).isNotBlank();
    assertThat(timedOut.errorMessage()).contains(id);

    Http.Answer withoutKey = post(late, KEY_A, body, null);
    assertThat(withoutKey.status()).isEqualTo(503);
    assertThat(withoutKey.json().get("requestId").asText()).as("a 503 without a key names its request too").isNotBlank().isNotEqualTo(id);

    createTopics(missing);
    await("the retry with the same key is published").atMost(Duration.ofSeconds(30)).until(() -> {
      Http.Answer retry = post(late, KEY_A, body, "retry-me");
      assertThat(retry.json().get("requestId").asText()).as("every answer to the key names the same request").isEqualTo(id);
      return retry.status() == 202;
    });
    Http.Answer afterwards = post(late, KEY_A, body, "retry-me");
    assertThat(afterwards.status()).isEqualTo(202);
    assertThat(afterwards.json().get("requestId").asText()).isEqualTo(id);
    String sentinel = post(late, KEY_A, body, null).json().get("requestId").asText();

    List<Request> published = requests(missing.requests(), "s-late", sentinel);
    List<Request> copies = published.stream().filter(r -> r.requestId().equals(id)).toList();
    assertThat(copies).as("the keyed request landed; any repeat is the same record, run once by requestId").isNotEmpty()
        .containsOnly(copies.get(0));
    assertThat(published.get(published.size() - 1).requestId()).isEqualTo(sentinel);
  }

  @Test
  void keysAreForgottenOldestFirstOverTheBoundAndAfterTheRetention() throws Exception {
    StatusSettings small = StatusSettings.from(ConfigFactory.parseString("idempotency-retention = 3s\nidempotency-max-keys = 2")
        .withFallback(ConfigFactory.load().getConfig("reelay.status")));
    Http h = new Http(start(small, topics).baseUrl());
    String body = "{\"sessionKey\":\"s-bound\",\"text\":\"a fox at dusk\"}";
    String k1 = id(post(h, KEY_A, body, "k1"));
    String k2 = id(post(h, KEY_A, body, "k2"));
    assertThat(id(post(h, KEY_A, body, "k1"))).isEqualTo(k1);
    String k3 = id(post(h, KEY_A, body, "k3")); // a third key: k1, the oldest, is forgotten
    assertThat(id(post(h, KEY_A, body, "k1"))).isNotEqualTo(k1).isNotIn(k2, k3);
    assertThat(id(post(h, KEY_A, body, "k3"))).isEqualTo(k3);
    await("k3 is forgotten after the retention").atMost(Duration.ofSeconds(20))
        .until(() -> !id(post(h, KEY_A, body, "k3")).equals(k3));
  }

  @Test
  void aCallbackUrlPekkoHttpCannotUseIsRefusedAtSubmit() {
    Http.Answer port = post(http, KEY_A,
        "{\"sessionKey\":\"s-cb\",\"action\":\"credits\",\"callbackUrl\":\"https://example.com:99999/hook\"}", null);
    assertThat(port.status()).isEqualTo(400);
    assertThat(port.errorMessage()).isEqualTo("callbackUrl has port 99999; a port is 1-65535");
    Http.Answer space = post(http, KEY_A,
        "{\"sessionKey\":\"s-cb\",\"action\":\"credits\",\"callbackUrl\":\"https://example.com/a b\"}", null);
    assertThat(space.status()).isEqualTo(400);
    assertThat(space.errorMessage()).startsWith("callbackUrl is not a URL");
  }

  @Test
  void everyCallbackUrlSubmitAcceptsIsOnePekkoHttpCanSendTo() {
    List<String> candidates = List.of("https://example.com:99999/h", "https://example.com:0/h", "https://example.com:/h",
        "https://example.com:65535/h", "https://exa_mple.com/h", "https://xn--exmple-cua.com/h", "https://exämple.com/h",
        "https://example.com/ä", "https://example.com/a%zz", "http://[::1]:8080/x", "http://[fe80::1%25eth0]/x",
        "https://example.com/h?q=a|b", "https://example.com/h#frag", "https://example.com/h?q=%20ok&x=[1]",
        "http://127.0.0.1:8080/a;b/c", "https://example.com.:443/", "https://-bad.com/", "http://999.1.1.1/",
        "https://example.com/h?x=`", "https://ex%41mple.com/", "HTTPS://EXAMPLE.COM/x", "https://example.com/h?a=b?c",
        "https://example.com/h\\x", "https://example.com/h\tx", "http://h.example/~user/a-b_c.d!$&'()*+,=:@/");
    List<String> accepted = candidates.stream().filter(u -> RequestValidation.callbackProblem(u) == null).toList();
    assertThat(accepted).hasSizeGreaterThanOrEqualTo(8);
    for (String u : accepted) {
      Uri parsed = Uri.create(u); // throws if pekko-http could not send to it
      assertThat(parsed.port()).as(u).isBetween(1, 65_535);
      assertThat(parsed.host().address()).as(u).isNotBlank();
    }
  }

  /** POSTs a submission with {@code idempotencyKey} written byte for byte (ISO-8859-1); the raw answer. */
  private static String rawPost(String idempotencyKey) throws Exception {
    byte[] body = "{\"sessionKey\":\"s-raw\",\"text\":\"a fox\"}".getBytes(StandardCharsets.UTF_8);
    URI base = URI.create(baseUrl);
    try (Socket s = new Socket(base.getHost(), base.getPort())) {
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/requests HTTP/1.1\r\nHost: " + base.getHost() + "\r\nConnection: close\r\n"
          + "Authorization: Bearer " + KEY_A + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
          + "\r\nIdempotency-Key: " + idempotencyKey + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static StatusServer start(StatusSettings settings, Topics t) throws Exception {
    StatusServer s = StatusServer.start(testKit.system(), TestStore.inTempDir(settings).withPort(0).withApiKeys(Map.of(KEY_A, "tenant-a", KEY_B, "tenant-b")),
        TestKafka.bootstrapServers(), t).toCompletableFuture().get(30, TimeUnit.SECONDS);
    servers.add(s);
    return s;
  }

  /** {@code s} once its stores run (what a load balancer waits for, by /readyz). */
  private static StatusServer ready(StatusServer s) {
    await().atMost(Duration.ofSeconds(60)).until(s::isReady);
    return s;
  }

  private static String id(Http.Answer a) {
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    return a.json().get("requestId").asText();
  }

  private static HttpRequest request(Http h, String apiKey, String body, String idempotencyKey) {
    HttpRequest.Builder b = h.builder("/v1/requests", apiKey).header("Content-Type", "application/json");
    if (idempotencyKey != null) {
      b.header("Idempotency-Key", idempotencyKey);
    }
    return b.POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  private static Http.Answer post(Http h, String apiKey, String body, String idempotencyKey) {
    return Http.send(request(h, apiKey, body, idempotencyKey));
  }

  private static void createTopics(Topics t) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(t.events(), 1, (short) 1), new NewTopic(t.requests(), 1, (short) 1)))
          .all().get(30, TimeUnit.SECONDS);
    }
  }

  /** The requests of {@code session} on {@code topic}, in order, up to the one named {@code lastId}. */
  private static List<Request> requests(String topic, String session, String lastId) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("check"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    List<Request> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          Request req = Json.read(r.value(), Request.class);
          if (session.equals(req.sessionKey())) {
            out.add(req);
            if (req.requestId().equals(lastId)) {
              return out;
            }
          }
        }
      }
    }
    throw new AssertionError("no request " + lastId + " on " + topic + " (saw " + out.size() + ")");
  }
}

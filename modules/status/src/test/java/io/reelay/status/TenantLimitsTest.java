package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What one tenant may hold: live streams, submits per second, body size and field lengths. */
class TenantLimitsTest {

  static final String KEY_A = "key-a";
  static final String KEY_B = "key-b";
  static final String KEY_C = "key-c";

  static final ActorTestKit testKit = ActorTestKit.create();
  static final TestStore store = new TestStore();
  static final StatusQueries view = store.queries();
  static final RecordingPublisher publisher = new RecordingPublisher();
  static final List<Request> published = publisher.published;
  static final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  static ServerBinding binding;
  static Http http;

  @BeforeAll
  static void bind() throws Exception {
    // 2 streams per tenant, 3 in all; 1 KiB bodies; a bucket of 3 submits that refills once an hour
    // heartbeats every 200 ms: a client gone away is noticed at the next write
    StatusSettings settings = StatusSettings.from(ConfigFactory.parseMap(Map.of("sse-keep-alive", "200ms"))
            .withFallback(ConfigFactory.load().getConfig("reelay.status")))
        .withPort(0).withLimits(1024, 2, 3, 1.0 / 3600, 3);
    StatusRoutes routes = new StatusRoutes(settings, Map.of(KEY_A, "a", KEY_B, "b", KEY_C, "c"), view, publisher, () -> true, meters);
    binding = org.apache.pekko.http.javadsl.Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(routes.route())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    http = new Http("http://127.0.0.1:" + binding.localAddress().getPort());
    for (String tenant : List.of("a", "b", "c")) {
      for (int i = 0; i < 3; i++) {
        store.apply(event("live-" + i, "s", tenant, 1, RequestState.RUNNING), Instant.now()); // streams stay open
      }
    }
  }

  @AfterAll
  static void unbind() {
    binding.unbind();
    testKit.shutdownTestKit();
  }

  @Test
  void aWatcherFloodGets429WithRetryAfterPerTenantAndInAllAndASlotFreesWhenAStreamCloses() throws Exception {
    List<Socket> open = new ArrayList<>();
    try {
      open.add(watch(KEY_A, "live-0"));
      open.add(watch(KEY_A, "live-1"));

      Http.Answer third = http.get("/v1/requests/live-2/events", KEY_A);
      assertThat(third.status()).isEqualTo(429);
      assertThat(third.errorCode()).isEqualTo("TOO_MANY_STREAMS");
      assertThat(third.errorMessage()).contains("sse-watchers-per-tenant");
      assertThat(third.raw().headers().firstValue("Retry-After")).hasValue("5");
      assertThat(meters.get("reelay_status_sse_watchers").tag("tenant", "a").gauge().value()).isEqualTo(2.0);

      // tenant b is not held back by a's streams, until the service's own limit (3)
      open.add(watch(KEY_B, "live-0"));
      Http.Answer overall = http.get("/v1/requests/live-1/events", KEY_B);
      assertThat(overall.status()).isEqualTo(429);
      assertThat(overall.errorMessage()).contains("reelay.status.limits.sse-watchers)");

      // a client that goes away gives its slot back
      open.remove(0).close();
      Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
          .until(() -> http.get("/v1/requests/live-2", KEY_A).status() == 200 && statusOfWatch(KEY_A, "live-2", open) == 200);
    } finally {
      for (Socket s : open) {
        s.close();
      }
    }
  }

  @Test
  void aStreamRequestThatIsNotAnsweredAsAStreamGivesItsSlotBack() {
    for (int i = 0; i < 3; i++) { // more than the tenant's 2 slots
      Http.Answer json = Http.send(http.builder("/v1/requests/live-0/events", KEY_C).header("Accept", "application/json").GET().build());
      assertThat(json.status()).isEqualTo(406);
    }
    assertThat(meters.get("reelay_status_sse_watchers").tag("tenant", "c").gauge().value()).isZero();
  }

  @Test
  void submitsBeyondTheTenantsBucketGet429AndOtherTenantsAreNotAffected() {
    String body = "{\"sessionKey\":\"s\",\"action\":\"credits\"}";
    for (int i = 0; i < 3; i++) {
      assertThat(http.post("/v1/requests", KEY_C, body).status()).isEqualTo(202);
    }
    Http.Answer limited = http.post("/v1/requests", KEY_C, body);
    assertThat(limited.status()).isEqualTo(429);
    assertThat(limited.errorCode()).isEqualTo("RATE_LIMITED");
    assertThat(limited.errorMessage()).contains("reelay.status.limits.submits-per-second");
    // the next token is an hour away at this test's rate
    assertThat(Long.parseLong(limited.raw().headers().firstValue("Retry-After").orElseThrow())).isBetween(3000L, 3600L);
    assertThat(published.stream().filter(r -> r.tenant().equals("c"))).hasSize(3);
  }

  @Test
  void aBodyOverTheLimitIs413NamingTheLimitAndNothingIsPublished() {
    int before = published.size();
    String big = "{\"sessionKey\":\"s\",\"text\":\"" + "x".repeat(2000) + "\"}";
    Http.Answer r = http.post("/v1/requests", KEY_B, big);
    assertThat(r.status()).isEqualTo(413);
    assertThat(r.errorCode()).isEqualTo("PAYLOAD_TOO_LARGE");
    assertThat(r.errorMessage()).contains("1024 bytes").contains("reelay.status.limits.max-body-bytes");
    assertThat(published).hasSize(before);
  }

  @Test
  void aStringFieldOverItsMaximumIs400NamingTheField() {
    Http.Answer r = http.post("/v1/requests", KEY_B,
        "{\"sessionKey\":\"s\",\"action\":\"export\",\"output\":{\"format\":\"" + "m".repeat(33) + "\"}}");
    assertThat(r.status()).isEqualTo(400);
    assertThat(r.errorMessage()).contains("output.format is longer than 32 characters");
    Http.Answer lang = http.post("/v1/requests", KEY_B, "{\"sessionKey\":\"s\",\"text\":\"a fox\",\"language\":\"" + "e".repeat(36) + "\"}");
    assertThat(lang.status()).isEqualTo(400);
    assertThat(lang.errorMessage()).contains("language is longer than 35 characters");
  }

  @Test
  void theBucketGrantsTheBurstThenOneTokenPerTickOfItsRate() {
    AtomicLong now = new AtomicLong();
    TenantLimits limits = new TenantLimits(new TenantLimits.Settings(1024, 1, 1, 10, 2), now::get);
    assertThat(limits.submit("t")).isZero();
    assertThat(limits.submit("t")).isZero();
    assertThat(limits.submit("t")).isEqualTo(Duration.ofMillis(100)); // empty: one token per 100 ms
    assertThat(limits.submit("u")).isZero(); // each tenant has its own bucket
    now.addAndGet(Duration.ofMillis(99).toNanos());
    assertThat(limits.submit("t")).isEqualTo(Duration.ofMillis(1));
    now.addAndGet(Duration.ofMillis(1).toNanos());
    assertThat(limits.submit("t")).isZero();
    now.addAndGet(Duration.ofSeconds(60).toNanos()); // a long pause refills to the burst, no more
    assertThat(limits.submit("t")).isZero();
    assertThat(limits.submit("t")).isZero();
    assertThat(limits.submit("t")).isPositive();
  }

  @Test
  void aWatchIsReleasedOnceHoweverOftenItEnds() {
    TenantLimits limits = new TenantLimits(new TenantLimits.Settings(1024, 2, 10, 1, 1));
    TenantLimits.Watch w = limits.watch("t");
    limits.watch("t");
    assertThat(limits.watch("t")).isNull();
    w.release();
    w.release();
    assertThat(limits.watching("t")).isEqualTo(1);
    assertThat(limits.watch("t")).isNotNull();
    assertThat(limits.watch("t")).isNull();
  }

  /** Opens a live stream on a raw socket (closing it is the client going away); fails unless it is answered 200. */
  private static Socket watch(String key, String id) throws Exception {
    List<Socket> opened = new ArrayList<>();
    int status = statusOfWatch(key, id, opened);
    assertThat(status).as("live stream of " + id).isEqualTo(200);
    return opened.get(0);
  }

  /** The status line's code of a live stream request; an answered 200 stays open in {@code open}. */
  private static int statusOfWatch(String key, String id, List<Socket> open) throws Exception {
    Socket s = new Socket("127.0.0.1", binding.localAddress().getPort());
    s.setSoTimeout(10_000);
    s.getOutputStream().write(("GET /v1/requests/" + id + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
        + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    String statusLine = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    int code = Integer.parseInt(statusLine.split(" ")[1]);
    if (code == 200) {
      open.add(s);
    } else {
      s.close();
    }
    return code;
  }
}

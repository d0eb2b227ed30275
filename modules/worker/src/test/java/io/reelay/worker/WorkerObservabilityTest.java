package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * What an operator sees of a running worker: its endpoints (health, readiness, Prometheus
 * metrics with the request, backend, snapshot, DLQ, Kafka and JVM meters) and its log lines, each of
 * a session's carrying tenant, sessionKey and requestId, none carrying a token.
 */
class WorkerObservabilityTest {

  private static final HttpClient http = HttpClient.newHttpClient();
  private static final Pattern LAG = Pattern.compile("kafka_consumer_fetch_manager_records_lag\\{[^}]*partition=\"[0-9]+\"");
  private static final Pattern TOKEN = Pattern.compile("nmv_usr_[A-Za-z0-9]{8,}");

  @Test
  void aFlowShowsInTheMetricsAndEverySessionLineCarriesItsRequestWithoutATokenAnywhere() throws Exception {
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    lines.start();
    root.addAppender(lines);
    try (WorkerHarness h = new WorkerHarness(Map.of())) {
      String base = h.worker.httpUrl();
      assertThat(get(base + "/healthz").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(60)).until(() -> get(base + "/readyz").statusCode() == 200);
      assertThat(get(base + "/readyz").body()).contains("ready");

      String s = "obs-" + UUID.randomUUID();
      h.request(s, "g-" + s, "\"text\":\"a fox running through a snowy forest at dusk\"");
      h.request(s, "e-" + s, "\"action\":\"export\"");
      h.request(s, "c-" + s, "\"action\":\"credits\"");
      h.publish(s, "not json");
      Map<String, Event> ends = h.terminalEvents(Set.of("g-" + s, "e-" + s, "c-" + s));
      assertThat(ends.values()).extracting(Event::state).containsOnly(RequestState.COMPLETED);

      // the dead letter counted, and the consumer's per-partition lag picked up (its meters refresh every 5 s)
      await().atMost(Duration.ofSeconds(30)).until(() -> get(base + "/metrics").body().contains("reelay_worker_dead_letters_total")
          && LAG.matcher(get(base + "/metrics").body()).find());
      HttpResponse<String> metrics = get(base + "/metrics");
      assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
      String m = metrics.body();
      assertThat(m)
          .contains("reelay_worker_requests_total{action=\"credits\",state=\"COMPLETED\",tenant=\"default\"}")
          .contains("reelay_worker_requests_total{action=\"export\",state=\"COMPLETED\",tenant=\"default\"}")
          .contains("reelay_worker_requests_in_hand{worker=\"" + h.worker.clientId() + "\"}")
          .contains("reelay_worker_session_queue_depth_count")
          .contains("reelay_worker_dead_letters_total{reason=\"INVALID_REQUEST\"}")
          .contains("reelay_worker_snapshot_writes_seconds_bucket")
          .contains("reelay_worker_render_polls_count")
          .contains("reelay_backend_calls_seconds_bucket{endpoint=\"run_sse\"")
          .contains("reelay_backend_calls_seconds_bucket{endpoint=\"render-poll\"")
          .contains("reelay_backend_open_streams")
          .contains("kafka_producer_record_send_total")
          .contains("jvm_memory_used_bytes")
          .contains("jvm_gc_");
      assertThat(counter(m, "reelay_worker_requests_total{action=\"credits\",state=\"COMPLETED\",tenant=\"default\"}")).isEqualTo(1.0);
    } finally {
      root.detachAppender(lines);
    }

    List<ILoggingEvent> sessionLines = lines.list.stream()
        .filter(e -> e.getLoggerName().equals(SessionActor.class.getName()))
        .toList();
    assertThat(sessionLines).as("the session's lines").isNotEmpty();
    assertThat(sessionLines).allSatisfy(e -> {
      assertThat(e.getMDCPropertyMap()).containsEntry("tenant", "default").containsKey("sessionKey").containsKey("requestId");
      assertThat(e.getMDCPropertyMap().get("sessionKey")).startsWith("obs-");
    });
    assertThat(sessionLines).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("export request e-").contains("ended COMPLETED"));
    assertThat(lines.list).allSatisfy(e -> {
      assertThat(TOKEN.matcher(e.getFormattedMessage()).find()).as(e.getFormattedMessage()).isFalse();
      assertThat(e.getMDCPropertyMap().values()).noneMatch(v -> TOKEN.matcher(v).find());
    });
  }

  @Test
  void theJsonLogFormatWritesOneObjectPerLineWithTheMdc() throws Exception {
    LoggerContext ctx = new LoggerContext();
    JoranConfigurator conf = new JoranConfigurator();
    conf.setContext(ctx);
    conf.doConfigure(Path.of("../../config/logback-json.xml").toFile());
    Appender<ILoggingEvent> appender = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("JSON");
    assertThat(appender).isInstanceOf(OutputStreamAppender.class);
    JsonEncoder encoder = (JsonEncoder) ((OutputStreamAppender<ILoggingEvent>) appender).getEncoder();

    ch.qos.logback.classic.spi.LoggingEvent e = new ch.qos.logback.classic.spi.LoggingEvent(
        "test", ctx.getLogger("io.reelay.worker.SessionActor"), ch.qos.logback.classic.Level.INFO, "request {} ended", null,
        new Object[] {"r-1"});
    e.setMDCPropertyMap(Map.of("requestId", "r-1", "sessionKey", "s-1", "tenant", "acme"));
    String line = new String(encoder.encode(e), StandardCharsets.UTF_8);
    assertThat(line.strip()).doesNotContain("\n");
    JsonNode j = Json.mapper().readTree(line);
    assertThat(j.path("level").asText()).isEqualTo("INFO");
    assertThat(j.path("loggerName").asText()).isEqualTo("io.reelay.worker.SessionActor");
    assertThat(j.path("formattedMessage").asText()).isEqualTo("request r-1 ended");
    assertThat(j.path("mdc").path("tenant").asText()).isEqualTo("acme");
    assertThat(j.path("mdc").path("requestId").asText()).isEqualTo("r-1");
    assertThat(Files.exists(Path.of("../../config/logback.xml"))).isTrue();
    ctx.stop();
  }

  private static double counter(String scrape, String series) {
    return scrape.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
        .findFirst().orElseThrow(() -> new AssertionError("no series " + series));
  }

  private static HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}

package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One trace per request, across the Kafka hops, on the real stack (broker, simulator, worker, status
 * service) with the SDK's in-memory exporter: {@code POST /v1/requests} (or a producer's {@code
 * traceparent}) → the record published → the worker's handling → every backend call → the events
 * published → the webhook; and the {@code traceparent} on every event record.
 */
class TracingTest {

  private static final String KEY = "trace-key";
  private static final HttpClient http = HttpClient.newHttpClient();
  private static final InMemorySpanExporter spans = InMemorySpanExporter.create();
  private static final List<String> webhookTraceparents = new CopyOnWriteArrayList<>();

  private static OpenTelemetrySdk sdk;
  private static LocalStack stack;
  private static Topics topics;
  private static HttpServer receiver;

  @BeforeAll
  static void start() throws Exception {
    GlobalOpenTelemetry.resetForTest();
    sdk = OpenTelemetrySdk.builder()
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .buildAndRegisterGlobal();
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/", ex -> {
      Optional.ofNullable(ex.getRequestHeaders().getFirst("traceparent")).ifPresent(webhookTraceparents::add);
      ex.sendResponseHeaders(204, -1);
      ex.close();
    });
    receiver.start();
    topics = Topics.withPrefix(TestKafka.uniqueName("traces"));
    Config base = ConfigFactory.parseMap(Map.of(
            "reelay.worker.group-id", TestKafka.uniqueName("workers"),
            "reelay.webhooks.group-id", TestKafka.uniqueName("webhooks"),
            "reelay.webhooks.allow", "127.0.0.1/32",
            "reelay.webhooks.allow-unsigned", true))
        .withFallback(ConfigFactory.load());
    stack = LocalStack.start(base, new LocalStack.Options(null, 0, TestKafka.bootstrapServers(), 0, 0, 1, 0.005, KEY, topics, 3));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
    if (receiver != null) {
      receiver.stop(0);
    }
    if (sdk != null) {
      sdk.close();
    }
    GlobalOpenTelemetry.resetForTest();
  }

  @Test
  void aPostedRequestIsOneTraceFromTheCallerToItsBackendCallsEventsAndWebhook() throws Exception {
    String traceId = hex(16);
    String callerSpan = hex(8);
    String session = "traced-" + UUID.randomUUID();
    String hook = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
    String id = post("{\"sessionKey\":\"" + session + "\",\"text\":\"a fox running through a snowy forest at dusk\","
        + "\"callbackUrl\":\"" + hook + "\"}", "00-" + traceId + "-" + callerSpan + "-01");
    assertThat(awaitTerminal(id).path("state").asText()).isEqualTo("COMPLETED");

    // the worker's span ends once its terminal event is taken; the webhook's once the receiver answered
    await().atMost(Duration.ofSeconds(30)).until(() -> find(traceId, SpanKind.CONSUMER, "process " + topics.requests()).isPresent()
        && find(traceId, SpanKind.CLIENT, "webhook POST").isPresent());
    List<SpanData> trace = trace(traceId);

    SpanData server = find(traceId, SpanKind.SERVER, "POST /v1/requests").orElseThrow();
    assertThat(server.getParentSpanId()).as("the caller's traceparent is the parent").isEqualTo(callerSpan);
    assertThat(server.getAttributes().asMap().toString()).contains("202");
    SpanData published = childOf(trace, server, SpanKind.PRODUCER, "publish " + topics.requests());
    SpanData handled = childOf(trace, published, SpanKind.CONSUMER, "process " + topics.requests());
    assertThat(handled.getAttributes().asMap().toString()).contains(id);

    // every backend call of the generation, each attempt a CLIENT span under the worker's handling
    Set<String> calls = trace.stream()
        .filter(s -> s.getKind() == SpanKind.CLIENT && s.getName().startsWith("nemo "))
        .peek(s -> assertThat(s.getParentSpanId()).as(s.getName()).isEqualTo(handled.getSpanId()))
        .map(SpanData::getName)
        .collect(Collectors.toSet());
    assertThat(calls).contains("nemo anonymous-token", "nemo session", "nemo run_sse");

    // the events it published, the terminal one too, and the webhook that terminal event caused
    List<SpanData> events = trace.stream()
        .filter(s -> s.getKind() == SpanKind.PRODUCER && s.getName().equals("publish " + topics.events()))
        .toList();
    assertThat(events).hasSizeGreaterThanOrEqualTo(3); // QUEUED, RUNNING..., COMPLETED
    assertThat(events).filteredOn(s -> s.getParentSpanId().equals(handled.getSpanId())).hasSizeGreaterThanOrEqualTo(3);
    SpanData webhook = find(traceId, SpanKind.CLIENT, "webhook POST").orElseThrow();
    assertThat(events).extracting(SpanData::getSpanId).contains(webhook.getParentSpanId());
    assertThat(webhookTraceparents).anyMatch(tp -> tp.startsWith("00-" + traceId + "-" + webhook.getSpanId()));

    // the status service's SUBMITTED and the worker's events all carry the trace on their records
    List<ConsumerRecord<String, String>> records = eventRecords(Topics.requestKey("default", id));
    assertThat(records).hasSizeGreaterThanOrEqualTo(4);
    assertThat(records).allSatisfy(r -> assertThat(traceparent(r)).startsWith("00-" + traceId + "-"));

    // no span says anything about the token or the backend's URLs
    assertThat(trace).allSatisfy(s -> s.getAttributes().forEach((k, v) -> {
      assertThat(k.getKey()).doesNotContainIgnoringCase("token").doesNotContainIgnoringCase("authorization").isNotEqualTo("url.full");
      assertThat(String.valueOf(v)).doesNotContain("Bearer").doesNotContain("http://");
    }));
  }

  @Test
  void anExportsRenderPollsAreInItsTraceAndARequestWithoutTraceparentStartsItsOwn() throws Exception {
    String session = "render-" + UUID.randomUUID();
    String gen = post("{\"sessionKey\":\"" + session + "\",\"text\":\"a city skyline at dusk\"}", null);
    assertThat(awaitTerminal(gen).path("state").asText()).isEqualTo("COMPLETED");
    String exp = post("{\"sessionKey\":\"" + session + "\",\"text\":\"export\"}", null);
    assertThat(awaitTerminal(exp).path("state").asText()).isEqualTo("COMPLETED");

    await().atMost(Duration.ofSeconds(30)).until(() -> consumerOf(exp).isPresent());
    SpanData handled = consumerOf(exp).orElseThrow();
    List<SpanData> trace = trace(handled.getTraceId());
    SpanData server = trace.stream().filter(s -> s.getKind() == SpanKind.SERVER).findFirst().orElseThrow();
    assertThat(server.getParentSpanContext().isValid()).as("no traceparent: the POST is the root").isFalse();
    assertThat(consumerOf(gen).orElseThrow().getTraceId()).as("each request its own trace").isNotEqualTo(handled.getTraceId());
    // polls started by the render's timer, off the session's thread, are still children of its handling
    List<SpanData> polls = trace.stream().filter(s -> s.getName().equals("nemo render-poll")).toList();
    assertThat(polls).isNotEmpty().allSatisfy(s -> assertThat(s.getParentSpanId()).isEqualTo(handled.getSpanId()));
    assertThat(trace).anyMatch(s -> s.getName().equals("nemo render-submit") && s.getParentSpanId().equals(handled.getSpanId()));
  }

  @Test
  void aProducersTraceparentOnTheKafkaRecordIsTheParentOfTheWorkersHandling() throws Exception {
    String traceId = hex(16);
    String producerSpan = hex(8);
    String id = "kafka-" + UUID.randomUUID();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
      ProducerRecord<String, String> rec = new ProducerRecord<>(topics.requests(), "direct",
          "{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"direct\",\"action\":\"credits\"}");
      rec.headers().add("traceparent", ("00-" + traceId + "-" + producerSpan + "-01").getBytes(StandardCharsets.UTF_8));
      producer.send(rec).get(30, TimeUnit.SECONDS);
    }
    assertThat(awaitTerminal(id).path("state").asText()).isEqualTo("COMPLETED");
    await().atMost(Duration.ofSeconds(30)).until(() -> consumerOf(id).isPresent());
    SpanData handled = consumerOf(id).orElseThrow();
    assertThat(handled.getTraceId()).isEqualTo(traceId);
    assertThat(handled.getParentSpanId()).isEqualTo(producerSpan);
    assertThat(trace(traceId)).anyMatch(s -> s.getName().equals("nemo credits") && s.getParentSpanId().equals(handled.getSpanId()));
    assertThat(eventRecords(Topics.requestKey("default", id)))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(traceparent(r)).startsWith("00-" + traceId + "-"));
  }

  @Test
  void spansGoToOtlpOverHttpWhenAnEndpointIsSetAndNowhereOtherwise() throws Exception {
    assertThat(Telemetry.sdk("reelay-test", Map.of(), false)).isEmpty();
    assertThat(Telemetry.sdk("reelay-test", Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", " "), false)).isEmpty();
    assertThatThrownBy(() -> Telemetry.sdk("reelay-test",
            Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), false))
        .hasMessageContaining("http/protobuf");

    AtomicReference<String> got = new AtomicReference<>();
    HttpServer collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext("/", ex -> {
      byte[] body = ex.getRequestBody().readAllBytes();
      got.set(ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " " + ex.getRequestHeaders().getFirst("Content-Type")
          + " " + new String(body, StandardCharsets.ISO_8859_1));
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    collector.start();
    try (OpenTelemetrySdk otlp = Telemetry.sdk("reelay-test",
        Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.getAddress().getPort()), false).orElseThrow()) {
      otlp.getTracer("test").spanBuilder("exported-span").startSpan().end();
      assertThat(otlp.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
    } finally {
      collector.stop(0);
    }
    assertThat(got.get()).startsWith("POST /v1/traces application/x-protobuf").contains("exported-span").contains("reelay-test");
  }

  // ------------------------------------------------------------------ helpers

  private static String hex(int bytes) {
    byte[] b = new byte[bytes];
    ThreadLocalRandom.current().nextBytes(b);
    b[0] |= 1; // never all zero (an invalid id)
    return HexFormat.of().formatHex(b);
  }

  private static List<SpanData> trace(String traceId) {
    return spans.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(traceId)).toList();
  }

  private static Optional<SpanData> find(String traceId, SpanKind kind, String name) {
    return trace(traceId).stream().filter(s -> s.getKind() == kind && s.getName().equals(name)).findFirst();
  }

  private static Optional<SpanData> consumerOf(String requestId) {
    return spans.getFinishedSpanItems().stream()
        .filter(s -> s.getKind() == SpanKind.CONSUMER && requestId.equals(s.getAttributes().asMap().entrySet().stream()
            .filter(e -> e.getKey().getKey().equals("reelay.request_id")).map(e -> String.valueOf(e.getValue())).findFirst().orElse(null)))
        .findFirst();
  }

  private static SpanData childOf(List<SpanData> trace, SpanData parent, SpanKind kind, String name) {
    List<SpanData> children = trace.stream()
        .filter(s -> s.getKind() == kind && s.getName().equals(name) && s.getParentSpanId().equals(parent.getSpanId()))
        .toList();
    assertThat(children).as(kind + " " + name + " under " + parent.getName() + " in " + names(trace)).isNotEmpty();
    return children.get(0);
  }

  private static String names(List<SpanData> trace) {
    return trace.stream().map(s -> s.getKind() + " " + s.getName()).toList().toString();
  }

  private static String traceparent(ConsumerRecord<String, String> r) {
    Header h = r.headers().lastHeader("traceparent");
    return h == null ? "(none)" : new String(h.value(), StandardCharsets.UTF_8);
  }

  /** Every record on the events topic under {@code key}, read from the start. */
  private static List<ConsumerRecord<String, String>> eventRecords(String key) {
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers(),
        ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("trace-reader"),
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
      c.subscribe(List.of(topics.events()));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      boolean terminal = false;
      while (!terminal && System.nanoTime() < until) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
          if (key.equals(r.key())) {
            out.add(r);
            String state = Json.read(r.value(), JsonNode.class).path("state").asText();
            terminal |= state.equals("COMPLETED") || state.equals("FAILED");
          }
        }
      }
    }
    return out;
  }

  private static String post(String body, String traceparent) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests"))
        .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (traceparent != null) {
      b.header("traceparent", traceparent);
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
    return Json.read(r.body(), JsonNode.class).path("requestId").asText();
  }

  private static JsonNode awaitTerminal(String requestId) {
    AtomicReference<JsonNode> last = new AtomicReference<>();
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests/" + requestId))
          .header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        return false;
      }
      last.set(Json.read(r.body(), JsonNode.class));
      return List.of("COMPLETED", "FAILED", "CANCELLED", "REJECTED").contains(last.get().path("state").asText());
    });
    return last.get();
  }
}

package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import io.reelay.sim.Mp4Probe;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole spine, as a user sees it: a request published with a plain {@link KafkaProducer} to a
 * real broker travels through a worker and the simulator, and the status HTTP API shows it
 * COMPLETED with a download URL that serves a playable MP4.
 */
class EndToEndTest {

  private static final String API_KEY = "e2e-key";
  private static LocalStack stack;
  private static Topics topics;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    topics = Topics.withPrefix(TestKafka.uniqueName("e2e"));
    Config base =
        ConfigFactory.parseMap(Map.of("reelay.worker.group-id", TestKafka.uniqueName("workers")))
            .withFallback(ConfigFactory.load());
    stack = LocalStack.start(base, new LocalStack.Options(
        null, 0, TestKafka.bootstrapServers(), 0, 0, 1, 0.005, API_KEY, topics, 3));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  void aGenerateThenAnExportPublishedToKafkaEndWithAPlayableMp4(@TempDir Path dir) throws Exception {
    String session = "fox-" + UUID.randomUUID();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(topics.requests(), session,
          "{\"v\":1,\"requestId\":\"gen-" + session + "\",\"sessionKey\":\"" + session
              + "\",\"text\":\"a fox running through a snowy forest at dusk\"}")).get(30, TimeUnit.SECONDS);
      producer.send(new ProducerRecord<>(topics.requests(), session,
          "{\"v\":1,\"requestId\":\"exp-" + session + "\",\"sessionKey\":\"" + session
              + "\",\"text\":\"export\"}")).get(30, TimeUnit.SECONDS);
    }

    JsonNode generated = awaitTerminal("gen-" + session);
    assertThat(generated.path("state").asText()).isEqualTo("COMPLETED");
    assertThat(generated.path("result").path("timeline").asText()).startsWith("Timeline (");

    JsonNode exported = awaitTerminal("exp-" + session);
    assertThat(exported.path("state").asText()).isEqualTo("COMPLETED");
    String url = exported.path("result").path("downloadUrl").asText();
    assertThat(url).startsWith("http://127.0.0.1:");

    Path mp4 = dir.resolve("video.mp4");
    HttpResponse<Path> download = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofFile(mp4));
    assertThat(download.statusCode()).isEqualTo(200);
    io.reelay.sim.Mp4Info info = Mp4Probe.probe(mp4);
    assertThat(info.durationSeconds()).isGreaterThan(1.0);
    assertThat(Files.size(mp4)).isGreaterThan(1000);
  }

  @Test
  void theStatusApiRefusesAnUnknownKeyAndAMalformedRequestIsRejected() throws Exception {
    HttpResponse<String> unauthorized = http.send(
        HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests/x"))
            .header("Authorization", "Bearer wrong").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(unauthorized.statusCode()).isEqualTo(401);

    try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(topics.requests(), "k",
          "{\"v\":1,\"requestId\":\"bad-1\",\"sessionKey\":\"k\",\"action\":\"explode\"}")).get(30, TimeUnit.SECONDS);
    }
    JsonNode rejected = awaitTerminal("bad-1");
    assertThat(rejected.path("state").asText()).isEqualTo("REJECTED");
    assertThat(rejected.path("error").path("reason").asText()).contains("unknown action 'explode'");
  }

  private JsonNode awaitTerminal(String requestId) {
    AtomicReference<JsonNode> last = new AtomicReference<>();
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
      HttpResponse<String> r = http.send(
          HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests/" + requestId))
              .header("Authorization", "Bearer " + API_KEY).build(),
          HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      if (r.statusCode() != 200) {
        return false;
      }
      JsonNode n = Json.mapper().readTree(r.body());
      last.set(n);
      return switch (n.path("state").asText()) {
        case "COMPLETED", "FAILED", "CANCELLED", "REJECTED" -> true;
        default -> false;
      };
    });
    return last.get();
  }
}

package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code reelay submit} against a real stack with two tenants: a request goes through the status
 * API as the API key's tenant, so {@code --follow} sees it through; a refusal ends the command at
 * once with the API's words; {@code --kafka} publishes straight to the topic as {@code --tenant}.
 */
class SubmitCommandTest {

  private static final String KEY_A = "submit-key-a";
  private static final String KEY_B = "submit-key-b";
  private static final HttpClient http = HttpClient.newHttpClient();

  private static LocalStack stack;
  private static Topics topics;

  @BeforeAll
  static void start() throws Exception {
    topics = Topics.withPrefix(TestKafka.uniqueName("submit"));
    Config base = ConfigFactory.parseMap(Map.of(
            "reelay.worker.group-id", TestKafka.uniqueName("workers"),
            "reelay.webhooks.group-id", TestKafka.uniqueName("webhooks"),
            "reelay.status.api-keys", KEY_A + "=tenant-a," + KEY_B + "=tenant-b",
            "reelay.webhooks.secrets", "tenant-a=" + secret(), // tenant-b has none: no callbacks for it
            "reelay.webhooks.allow", ""))
        .withFallback(ConfigFactory.load());
    stack = LocalStack.start(base, new LocalStack.Options(null, 0, TestKafka.bootstrapServers(), 0, 0, 1, 0.005, null, topics, 3));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aSubmitWithAnotherTenantsKeyIsThatTenantsRequestAndFollowsToTheEnd() throws Exception {
    String session = "b-" + UUID.randomUUID();
    Run run = submit(KEY_B, "how many credits do I have", "--session", session, "--action", "credits", "--follow");

    assertThat(run.code()).as(run.err()).isEqualTo(0);
    String id = run.out().strip();
    JsonNode status = status(KEY_B, id);
    assertThat(status.path("tenant").asText()).isEqualTo("tenant-b");
    assertThat(status.path("state").asText()).isEqualTo("COMPLETED");
    assertThat(status.path("sessionKey").asText()).isEqualTo(session);
    // the other tenant does not see it
    assertThat(statusCode(KEY_A, id)).isEqualTo(404);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aRefusedSubmitPrintsTheApisMessageAndExitsAtOnceWithoutFollowing() throws Exception {
    // tenant-b has no webhook secret: the status service refuses its callbackUrl with a 400
    Run noSecret = submit(KEY_B, "a fox in the snow", "--callback", "https://hooks.example.com/reelay", "--follow");
    assertThat(noSecret.code()).isEqualTo(1);
    assertThat(noSecret.out()).isEmpty();
    assertThat(noSecret.err()).contains("HTTP 400").contains("reelay.webhooks.secrets").doesNotContain("following");

    // a callback to this machine is refused for tenant-a, which has a secret
    Run internal = submit(KEY_A, "a fox in the snow", "--callback", "http://127.0.0.1:9/hook", "--follow");
    assertThat(internal.code()).isEqualTo(1);
    assertThat(internal.err()).contains("HTTP 400").contains("reelay.webhooks.allow");

    Run badKey = submit("not-a-key", "a fox in the snow", "--follow");
    assertThat(badKey.code()).isEqualTo(1);
    assertThat(badKey.err()).contains("401").contains("REELAY_API_KEY");
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void withKafkaTheRequestIsPublishedStraightToTheTopicAsTheGivenTenant() throws Exception {
    String id = "kafka-" + UUID.randomUUID();
    Run run = submit(KEY_A, "credits", "--kafka", "--tenant", "tenant-a", "--request-id", id, "--action", "credits", "--follow");

    assertThat(run.code()).as(run.err()).isEqualTo(0);
    assertThat(run.out().strip()).isEqualTo(id);
    assertThat(status(KEY_A, id).path("tenant").asText()).isEqualTo("tenant-a");
    assertThat(run.err()).contains("tenant tenant-a");
  }

  @Test
  void tenantIsForKafkaOnly() throws Exception {
    Run run = submit(KEY_A, "credits", "--tenant", "tenant-b");
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err()).contains("--tenant needs --kafka");
  }

  // ------------------------------------------------------------------ helpers

  private record Run(int code, String out, String err) {}

  /** Runs {@code reelay submit ARGS} as the CLI does, with {@code key} and the stack's addresses as config. */
  private static Run submit(String key, String... args) {
    Map<String, Object> cli = new HashMap<>();
    cli.put("reelay.cli.api-key", key);
    cli.put("reelay.cli.status-url", stack.statusUrl());
    cli.put("reelay.kafka.bootstrap-servers", stack.bootstrapServers());
    cli.put("reelay.topics.prefix", topics.requests().substring(0, topics.requests().length() - ".requests".length()));
    cli.put("reelay.cli.follow-timeout", "90s");
    Config config = ConfigFactory.parseMap(cli).withFallback(ConfigFactory.load());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = new CommandLine(new SubmitCommand(() -> config,
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)))
        .setCaseInsensitiveEnumValuesAllowed(true)
        .execute(args);
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static JsonNode status(String key, String id) throws Exception {
    HttpResponse<String> r = get(key, id);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return Json.mapper().readTree(r.body());
  }

  private static int statusCode(String key, String id) throws Exception {
    return get(key, id).statusCode();
  }

  private static HttpResponse<String> get(String key, String id) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(stack.statusUrl() + "/v1/requests/" + id))
        .header("Authorization", "Bearer " + key).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String secret() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return "whsec_" + Base64.getEncoder().encodeToString(b);
  }
}

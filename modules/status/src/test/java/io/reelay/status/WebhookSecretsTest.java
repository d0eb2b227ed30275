package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.standardwebhooks.Webhook;
import com.standardwebhooks.exceptions.WebhookVerificationException;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Standard Webhooks signing and the {@code reelay.webhooks} settings, without Kafka: the spec's
 * published example, signatures checked by the official Java library (com.standardwebhooks), the
 * webhook-id, the secrets' format and what submit is told.
 */
class WebhookSecretsTest {

  // the example of the Standard Webhooks libraries' tests (libraries/*/ in standard-webhooks/standard-webhooks)
  private static final String SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final String SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  private static final long SPEC_TIMESTAMP = 1614265330;
  private static final String SPEC_PAYLOAD = "{\"test\": 2432232314}";
  private static final String SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

  static final String NEW = secret(1);
  static final String OLD = secret(2);

  /** A whsec_ secret of 32 bytes derived from {@code seed}. */
  static String secret(int seed) {
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) {
      key[i] = (byte) (seed * 31 + i * 7);
    }
    return "whsec_" + Base64.getEncoder().encodeToString(key);
  }

  @Test
  void theSignatureIsTheSpecsExample() throws Exception {
    WebhookSecrets s = WebhookSecrets.parse("t=" + SPEC_SECRET);
    assertThat(s.signature("t", SPEC_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD.getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(SPEC_SIGNATURE);
    // and what the official library signs
    assertThat(new Webhook(SPEC_SECRET).sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD)).isEqualTo(SPEC_SIGNATURE);
  }

  @Test
  void theOfficialLibraryVerifiesOurSignaturesAndBothSignaturesDuringARotation() throws Exception {
    WebhookSecrets s = WebhookSecrets.parse("acme=" + NEW + ", acme=" + OLD + ",other=" + secret(3));
    String body = "{\"v\":1,\"requestId\":\"r-1\",\"tenant\":\"acme\",\"seq\":7,\"state\":\"COMPLETED\",\"message\":\"é ✓\"}";
    String id = WebhookSecrets.webhookId("acme", "r-1", 7);
    long now = Instant.now().getEpochSecond();
    String header = s.signature("acme", id, now, body.getBytes(StandardCharsets.UTF_8));
    assertThat(header.split(" ")).hasSize(2).allMatch(sig -> sig.startsWith("v1,"));
    Map<String, List<String>> headers = Map.of("webhook-id", List.of(id), "webhook-timestamp", List.of(Long.toString(now)),
        "webhook-signature", List.of(header));
    assertThatCode(() -> new Webhook(NEW).verify(body, headers)).doesNotThrowAnyException();
    assertThatCode(() -> new Webhook(OLD).verify(body, headers)).doesNotThrowAnyException();
    assertThatThrownBy(() -> new Webhook(secret(3)).verify(body, headers)).isInstanceOf(WebhookVerificationException.class);
    assertThatThrownBy(() -> new Webhook(NEW).verify(body + " ", headers)).isInstanceOf(WebhookVerificationException.class);
    assertThat(s.signature("other", id, now, body.getBytes(StandardCharsets.UTF_8)).split(" ")).hasSize(1);
    assertThat(s.signature("stranger", id, now, body.getBytes(StandardCharsets.UTF_8))).isNull();
  }

  @Test
  void theWebhookIdIsStablePerEventAndDiffersBetweenEventsAndTenants() {
    String id = WebhookSecrets.webhookId("acme", "r-1", 7);
    assertThat(id).matches("msg_[A-Za-z0-9_-]{43}").doesNotContain(".");
    assertThat(WebhookSecrets.webhookId("acme", "r-1", 7)).isEqualTo(id);
    Set<String> ids = new HashSet<>(List.of(
        id,
        WebhookSecrets.webhookId("acme", "r-1", 8),
        WebhookSecrets.webhookId("acme", "r-2", 7),
        WebhookSecrets.webhookId("default", "r-1", 7),
        // what a naive "tenant:requestId:seq" or concatenation would confuse
        WebhookSecrets.webhookId("a", "b:c", 1),
        WebhookSecrets.webhookId("a:b", "c", 1),
        WebhookSecrets.webhookId("ab", "c", 1),
        WebhookSecrets.webhookId("a", "bc", 1)));
    assertThat(ids).hasSize(8);
  }

  @Test
  void aMalformedSecretIsAnErrorNamingTheTenantNeverTheSecret() {
    String shortKey = "whsec_" + Base64.getEncoder().encodeToString(new byte[16]);
    assertThatThrownBy(() -> WebhookSecrets.parse("acme=" + shortKey))
        .hasMessageContaining("tenant acme").hasMessageContaining("16 bytes").hasMessageContaining("at least 24")
        .hasMessageNotContaining(shortKey.substring(6));
    assertThatThrownBy(() -> WebhookSecrets.parse("acme=s3cr3t-plain"))
        .hasMessageContaining("tenant acme").hasMessageContaining("whsec_").hasMessageNotContaining("s3cr3t");
    assertThatThrownBy(() -> WebhookSecrets.parse("ok=" + NEW + ",acme=whsec_s3cr3t!!"))
        .hasMessageContaining("tenant acme").hasMessageContaining("base64").hasMessageNotContaining("s3cr3t");
    assertThatThrownBy(() -> WebhookSecrets.parse("ok=" + NEW + ",whsec_s3cr3t"))
        .hasMessageContaining("entry 2").hasMessageNotContaining("s3cr3t");
    assertThatThrownBy(() -> WebhookSecrets.parse("=" + NEW)).hasMessageContaining("entry 1")
        .hasMessageNotContaining(NEW.substring(6));
    assertThatThrownBy(() -> WebhookSecrets.parse("a b=" + NEW)).hasMessageContaining("entry 1");
    assertThat(WebhookSecrets.parse(" , ").tenants()).isEmpty();
  }

  @Test
  void noSecretReachesAToString() {
    WebhookSecrets s = WebhookSecrets.parse("acme=" + NEW + ",acme=" + OLD);
    WebhookSettings settings = settings("secrets = \"acme=" + NEW + ",acme=" + OLD + "\"");
    for (String text : List.of(s.toString(), settings.toString())) {
      assertThat(text).contains("acme").doesNotContain(NEW.substring(6, 20)).doesNotContain(OLD.substring(6, 20));
    }
  }

  @Test
  void settingsComeFromConfigAsEnvStringsOrHoconLists() throws Exception {
    WebhookSettings env = settings(
        "secrets = \"acme=" + NEW + ",acme=" + OLD + ",b=" + secret(3) + "\", allow = \"127.0.0.1/32, ::1/128\","
            + " allow-unsigned = \"true\"");
    assertThat(env.secrets().tenants()).containsExactly("acme", "b");
    assertThat(env.allowUnsigned()).isTrue();
    assertThat(env.targets().refusal(java.net.InetAddress.getByName("::1"))).isNull();
    WebhookSettings lists = settings("secrets = [\"acme=" + NEW + "\"], allow = [\"10.0.0.0/8\", hooks.internal]");
    assertThat(lists.secrets().has("acme")).isTrue();
    assertThat(lists.targets().allowsName("hooks.internal")).isTrue();
    WebhookSettings defaults = settings("");
    assertThat(defaults.secrets().tenants()).isEmpty();
    assertThat(defaults.allowUnsigned()).isFalse();
    assertThat(defaults.targets().refusal(java.net.InetAddress.getByName("127.0.0.1"))).isNotNull();
  }

  @Test
  void theStartFailsClearlyOnABadSecretABadAllowEntryOrTheRemovedSingleSecret() {
    assertThatThrownBy(() -> settings("secrets = \"acme=whsec_c2hvcnQ=\""))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tenant acme");
    assertThatThrownBy(() -> settings("allow = \"10.0.0.0/99\""))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'10.0.0.0/99'");
    assertThatThrownBy(() -> settings("secret = \"old-global-s3cr3t\""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("REELAY_WEBHOOK_SECRET)").hasMessageContaining("REELAY_WEBHOOK_SECRETS")
        .hasMessageNotContaining("s3cr3t");
  }

  @Test
  void submitIsToldWhyACallbackUrlCannotTakeWebhooks() {
    WebhookSettings s = settings("secrets = \"acme=" + NEW + "\", allow = \"10.9.0.0/16\"");
    assertThat(s.submitProblem("acme", "https://example.com/hooks?token=1")).isNull();
    assertThat(s.submitProblem("acme", null)).isNull();
    assertThat(s.submitProblem("acme", "https://10.9.1.1/hook")).as("allowed").isNull();
    assertThat(s.submitProblem("acme", "http://localhost:8090/_sim/reset")).as("a name: checked at delivery").isNull();
    for (String url : List.of("http://127.0.0.1:8090/_sim/reset", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/", "http://[::ffff:127.0.0.1]/", "http://2130706433/")) {
      assertThat(s.submitProblem("acme", url)).as(url)
          .startsWith("callbackUrl is refused: ").contains("reelay.webhooks.allow (REELAY_WEBHOOK_ALLOW)");
    }
    assertThat(s.submitProblem("stranger", "https://example.com/hook"))
        .contains("tenant stranger has no webhook signing secret")
        .contains("REELAY_WEBHOOK_SECRETS").contains("reelay.webhooks.allow-unsigned");
    assertThat(s.submitProblem(null, "https://example.com/hook")).contains("tenant default");
    assertThat(s.withAllowUnsigned(true).submitProblem("stranger", "https://example.com/hook")).isNull();
    assertThat(s.withAllowUnsigned(true).submitProblem("stranger", "http://127.0.0.1/")).startsWith("callbackUrl is refused");
  }

  /** {@code reelay.webhooks} of {@code hocon} over the reference defaults. */
  static WebhookSettings settings(String hocon) {
    Config c = ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference().getConfig("reelay.webhooks"));
    return WebhookSettings.from(c);
  }
}

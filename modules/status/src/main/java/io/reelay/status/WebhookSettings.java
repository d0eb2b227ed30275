package io.reelay.status;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueType;
import io.reelay.protocol.GroupProtocol;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestValidation;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code reelay.webhooks}. Holds the tenants' secrets: its {@link #toString()} names tenants only.
 * Needs no Kafka: {@link #submitProblem} serves the submit route.
 */
public record WebhookSettings(
    boolean enabled,
    String groupId,
    WebhookSecrets secrets,
    boolean allowUnsigned,
    WebhookTargets targets,
    int parallelism,
    int perDestinationParallelism,
    Duration timeout,
    int maxAttempts,
    Duration backoffMin,
    Duration backoffMax,
    Map<String, String> consumerProperties) {

  public WebhookSettings {
    if (parallelism < 1 || perDestinationParallelism < 1 || maxAttempts < 1) {
      throw new IllegalArgumentException(
          "reelay.webhooks: parallelism, per-destination-parallelism and max-attempts must be at least 1");
    }
    Objects.requireNonNull(secrets, "secrets");
    Objects.requireNonNull(targets, "targets");
  }

  /** With the default {@code per-destination-parallelism} (4, at most {@code parallelism}). */
  public WebhookSettings(boolean enabled, String groupId, WebhookSecrets secrets, boolean allowUnsigned, WebhookTargets targets,
      int parallelism, Duration timeout, int maxAttempts, Duration backoffMin, Duration backoffMax,
      Map<String, String> consumerProperties) {
    this(enabled, groupId, secrets, allowUnsigned, targets, parallelism, Math.max(1, Math.min(4, parallelism)), timeout,
        maxAttempts, backoffMin, backoffMax, consumerProperties);
  }

  /**
   * @throws IllegalArgumentException on a malformed secret (naming its tenant, never the secret) or
   *     allow entry, or when the removed {@code secret} (REELAY_WEBHOOK_SECRET) is still set
   */
  public static WebhookSettings from(Config c) {
    if (c.hasPath("secret") && !c.getString("secret").isBlank()) {
      throw new IllegalArgumentException("reelay.webhooks.secret (REELAY_WEBHOOK_SECRET) is no longer read: webhooks are "
          + "signed per tenant (Standard Webhooks); set " + WebhookSecrets.SETTING + " to tenant=whsec_…,… instead "
          + "and unset the old one");
    }
    Map<String, String> props = StatusSettings.properties(c.getConfig("consumer-properties"));
    return new WebhookSettings(c.getBoolean("enabled"), c.getString("group-id"),
        WebhookSecrets.parse(entries(c, "secrets")), c.getBoolean("allow-unsigned"),
        WebhookTargets.parse(entries(c, "allow")),
        c.getInt("parallelism"), c.getInt("per-destination-parallelism"), c.getDuration("timeout"),
        c.getInt("max-attempts"), c.getDuration("backoff-min"), c.getDuration("backoff-max"), Map.copyOf(props));
  }

  /** A list setting given as a HOCON list or as one comma separated string (what an env var holds). */
  private static List<String> entries(Config c, String path) {
    return c.getValue(path).valueType() == ConfigValueType.LIST
        ? c.getStringList(path)
        : List.of(c.getString(path).split(",", -1));
  }

  public WebhookSettings withSecrets(WebhookSecrets s) {
    return new WebhookSettings(enabled, groupId, s, allowUnsigned, targets, parallelism, perDestinationParallelism, timeout,
        maxAttempts, backoffMin, backoffMax, consumerProperties);
  }

  public WebhookSettings withAllowUnsigned(boolean a) {
    return new WebhookSettings(enabled, groupId, secrets, a, targets, parallelism, perDestinationParallelism, timeout,
        maxAttempts, backoffMin, backoffMax, consumerProperties);
  }

  public WebhookSettings withTargets(WebhookTargets t) {
    return new WebhookSettings(enabled, groupId, secrets, allowUnsigned, t, parallelism, perDestinationParallelism, timeout,
        maxAttempts, backoffMin, backoffMax, consumerProperties);
  }

  /**
   * Why submit must refuse {@code callbackUrl} from {@code tenant} (a 400), or null when its webhook
   * can go out: the URL's host is an address literal the allow list does not cover, or the tenant
   * has no secret while unsigned webhooks are off. A complete sentence for the API client. Assumes
   * {@code callbackUrl} passed {@code RequestValidation.callbackProblem}; null or blank: null. A host
   * name is not looked up here: one that resolves to a refused address is given up at delivery.
   */
  public String submitProblem(String tenant, String callbackUrl) {
    if (callbackUrl == null || callbackUrl.isBlank()) {
      return null;
    }
    String refused = targets.literalRefusal(callbackUrl);
    if (refused != null) {
      return "callbackUrl is refused: " + refused + "; webhooks are not sent to loopback, private, link-local or "
          + "other internal addresses unless the operator lists them in " + WebhookTargets.SETTING;
    }
    String t = (tenant == null || tenant.isBlank() ? Request.DEFAULT_TENANT : tenant);
    if (!secrets.has(t) && !allowUnsigned) {
      return "callbackUrl cannot be used: tenant " + t + " has no webhook signing secret; the operator sets one in "
          + "REELAY_WEBHOOK_SECRETS (reelay.webhooks.secrets = \"" + t + "=whsec_…\") or allows unsigned webhooks "
          + "with reelay.webhooks.allow-unsigned (REELAY_WEBHOOK_ALLOW_UNSIGNED=true)";
    }
    return null;
  }

  @Override
  public String toString() { // never a secret
    return "WebhookSettings[enabled=" + enabled + ", groupId=" + groupId + ", signedTenants=" + secrets.tenants()
        + ", allowUnsigned=" + allowUnsigned + ", " + targets + ", parallelism=" + parallelism
        + ", perDestinationParallelism=" + perDestinationParallelism + ", timeout=" + timeout + ", maxAttempts="
        + maxAttempts + "]";
  }

  /**
   * {@code pekko.kafka.consumer}, minus the classic-group settings a KIP-848 consumer refuses
   * (they may be there for the worker's classic groups).
   */
  static Config consumerConfig(ActorSystem<?> system, Map<String, String> consumerProperties) {
    Config c = system.settings().config().getConfig("pekko.kafka.consumer");
    if (GroupProtocol.isConsumer(consumerProperties)) {
      for (String key : GroupProtocol.CLASSIC_ONLY) {
        c = c.withoutPath("kafka-clients." + key).withoutPath(ConfigUtil.joinPath("kafka-clients", key));
      }
    }
    return c;
  }
}

package io.reelay.status;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The tenants' webhook signing secrets and the <a href="https://www.standardwebhooks.com/">Standard
 * Webhooks</a> signature made with them: {@code webhook-signature: v1,<base64 HMAC-SHA256 of
 * "webhook-id.webhook-timestamp.body">}, the key being the base64 after {@code whsec_}. A tenant
 * with two secrets (rotation) gets two signatures, space separated; a receiver accepts either.
 *
 * <p>From {@code reelay.webhooks.secrets}: {@code tenant=whsec_…,tenant2=whsec_…}. The secrets
 * never reach a log, a message or {@link #toString()}; errors name the tenant or the entry's
 * position.
 */
public final class WebhookSecrets {

  /** The setting the secrets come from, for messages. */
  static final String SETTING = "reelay.webhooks.secrets (REELAY_WEBHOOK_SECRETS)";

  /** Shortest key accepted: the spec's minimum (192 bits). */
  static final int MIN_KEY_BYTES = 24;

  private static final String PREFIX = "whsec_";
  private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._:@\\-]{1,128}");
  private static final byte[] ID_DOMAIN = "reelay-webhook-id/1".getBytes(StandardCharsets.UTF_8);

  private final Map<String, List<byte[]>> keys;

  private WebhookSecrets(Map<String, List<byte[]>> keys) {
    this.keys = keys;
  }

  /** No tenant has a secret. */
  public static WebhookSecrets none() {
    return new WebhookSecrets(Map.of());
  }

  /** {@code "tenant=whsec_…,tenant2=whsec_…"}: comma separated, blanks ignored, a tenant may appear twice. */
  public static WebhookSecrets parse(String commaSeparated) {
    return parse(Arrays.asList(commaSeparated.split(",", -1)));
  }

  /**
   * {@code tenant=whsec_<base64>} entries.
   *
   * @throws IllegalArgumentException naming the tenant (or the entry's position), never the secret,
   *     when an entry is malformed or its key is shorter than {@value #MIN_KEY_BYTES} bytes
   */
  public static WebhookSecrets parse(List<String> entries) {
    Map<String, List<byte[]>> keys = new LinkedHashMap<>();
    int n = 0;
    for (String raw : entries) {
      String e = raw.trim();
      if (e.isEmpty()) {
        continue;
      }
      n++;
      int eq = e.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException(SETTING + ": entry " + n + " is not tenant=whsec_…");
      }
      String tenant = e.substring(0, eq).trim();
      String secret = e.substring(eq + 1).trim();
      if (!TENANT.matcher(tenant).matches()) {
        throw new IllegalArgumentException(SETTING + ": entry " + n
            + " does not start with a tenant (1-128 characters of A-Z a-z 0-9 . _ : @ -) before '='");
      }
      if (!secret.startsWith(PREFIX)) {
        throw new IllegalArgumentException(SETTING + ": the secret of tenant " + tenant
            + " does not start with whsec_ (a Standard Webhooks secret is whsec_ and base64 of 24-64 random bytes)");
      }
      byte[] key;
      try {
        key = Base64.getDecoder().decode(secret.substring(PREFIX.length()));
      } catch (IllegalArgumentException notBase64) {
        throw new IllegalArgumentException(SETTING + ": the secret of tenant " + tenant + " is not whsec_ followed by base64");
      }
      if (key.length < MIN_KEY_BYTES) {
        throw new IllegalArgumentException(SETTING + ": the secret of tenant " + tenant + " is " + key.length
            + " bytes; at least " + MIN_KEY_BYTES + " random bytes are needed (e.g. whsec_ + `openssl rand -base64 32`)");
      }
      List<byte[]> mine = keys.computeIfAbsent(tenant, t -> new ArrayList<>());
      if (mine.stream().noneMatch(k -> Arrays.equals(k, key))) {
        mine.add(key);
      }
    }
    Map<String, List<byte[]>> frozen = new LinkedHashMap<>();
    keys.forEach((t, k) -> frozen.put(t, List.copyOf(k)));
    return new WebhookSecrets(Collections.unmodifiableMap(frozen));
  }

  /** Whether {@code tenant} has at least one secret. */
  public boolean has(String tenant) {
    return keys.containsKey(tenant);
  }

  /** The tenants with a secret, in configuration order (no secrets). */
  public List<String> tenants() {
    return List.copyOf(keys.keySet());
  }

  /**
   * The {@code webhook-signature} value of one attempt: one {@code v1,<base64>} per secret of
   * {@code tenant}, space separated; null when it has none.
   */
  public String signature(String tenant, String webhookId, long timestamp, byte[] body) {
    List<byte[]> mine = keys.get(tenant);
    if (mine == null) {
      return null;
    }
    StringBuilder b = new StringBuilder();
    for (byte[] key : mine) {
      if (b.length() > 0) {
        b.append(' ');
      }
      b.append(sign(key, webhookId, timestamp, body));
    }
    return b.toString();
  }

  /** {@code v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>}. */
  static String sign(byte[] key, String webhookId, long timestamp, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update((webhookId + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
      return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /**
   * The {@code webhook-id} of an event: {@code msg_} and the unpadded base64url SHA-256 of the
   * length-prefixed tenant, request id and seq. The same for every attempt of one event; different
   * for another event or another tenant (the encoding is injective: no two triples share an input).
   */
  public static String webhookId(String tenant, String requestId, long seq) {
    byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
    byte[] r = requestId.getBytes(StandardCharsets.UTF_8);
    ByteBuffer in = ByteBuffer.allocate(ID_DOMAIN.length + 4 + t.length + 4 + r.length + 8)
        .put(ID_DOMAIN).putInt(t.length).put(t).putInt(r.length).put(r).putLong(seq);
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(in.array());
      return "msg_" + Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  @Override
  public String toString() { // never a secret
    return "WebhookSecrets[tenants=" + keys.keySet() + "]";
  }
}

package io.reelay.status;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Settings of the status service, built once from the {@code reelay.status} config block. {@link
 * #toString()} never shows the API keys.
 */
public record StatusSettings(
    String host,
    int port,
    Map<String, String> apiKeys,
    Duration sseKeepAlive,
    int sseBuffer,
    Duration requestTimeout,
    Duration publishTimeout,
    Duration publishRetryAfter,
    Duration idempotencyRetention,
    int idempotencyMaxKeys,
    int maxHistoryPerRequest,
    int maxListLimit,
    int defaultListLimit,
    TenantLimits.Settings limits,
    MediaLinks.Settings mediaLinks,
    StoreSettings store,
    Map<String, String> producerProperties) {

  public StatusSettings {
    apiKeys = Collections.unmodifiableMap(new LinkedHashMap<>(apiKeys));
    producerProperties = Collections.unmodifiableMap(new LinkedHashMap<>(producerProperties));
    if (maxHistoryPerRequest < 1 || sseBuffer < 1 || maxListLimit < 1 || idempotencyMaxKeys < 1) {
      throw new IllegalArgumentException("reelay.status limits must be at least 1");
    }
    if (idempotencyRetention.isNegative() || idempotencyRetention.isZero()) {
      throw new IllegalArgumentException("reelay.status.idempotency-retention must be positive");
    }
  }

  /** @param config the {@code reelay.status} block */
  public static StatusSettings from(Config config) {
    return new StatusSettings(
        config.getString("host"),
        config.getInt("port"),
        parseApiKeys(config.getString("api-keys")),
        config.getDuration("sse-keep-alive"),
        config.getInt("sse-buffer"),
        config.getDuration("request-timeout"),
        config.getDuration("publish-timeout"),
        config.getDuration("publish-retry-after"),
        config.getDuration("idempotency-retention"),
        config.getInt("idempotency-max-keys"),
        config.getInt("max-history-per-request"),
        config.getInt("max-list-limit"),
        config.getInt("default-list-limit"),
        new TenantLimits.Settings(
            config.getBytes("limits.max-body-bytes"),
            config.getInt("limits.sse-watchers-per-tenant"),
            config.getInt("limits.sse-watchers"),
            config.getDouble("limits.submits-per-second"),
            config.getInt("limits.submit-burst")),
        MediaLinks.Settings.from(config.getConfig("media-links")),
        StoreSettings.from(config),
        properties(config.getConfig("producer-properties")));
  }

  /** The defaults of {@code reference.conf} (plus environment overrides). */
  public static StatusSettings defaults() {
    return from(ConfigFactory.load().getConfig("reelay.status"));
  }

  /**
   * Parses {@code "key=tenant,key2=tenant2"}; a bare {@code key} belongs to tenant {@code
   * default}. Error messages name the position of a bad entry, never the key itself.
   */
  public static Map<String, String> parseApiKeys(String spec) {
    Map<String, String> keys = new LinkedHashMap<>();
    if (spec == null || spec.isBlank()) {
      return keys;
    }
    String[] entries = spec.split(",");
    for (int i = 0; i < entries.length; i++) {
      String entry = entries[i].trim();
      if (entry.isEmpty()) {
        continue;
      }
      int eq = entry.indexOf('=');
      String key = eq < 0 ? entry : entry.substring(0, eq).trim();
      String tenant = eq < 0 ? "default" : entry.substring(eq + 1).trim();
      if (key.isEmpty() || tenant.isEmpty()) {
        throw new IllegalArgumentException(
            "api-keys entry #" + (i + 1) + " must look like key=tenant (neither part empty)");
      }
      keys.put(key, tenant);
    }
    return keys;
  }

  public StatusSettings withPort(int newPort) {
    return copy(newPort, apiKeys, publishTimeout);
  }

  /** The same settings with another publish timeout (tests: a record Kafka cannot take in time). */
  public StatusSettings withPublishTimeout(Duration timeout) {
    return copy(port, apiKeys, timeout);
  }

  /** The same settings with another key → tenant map (e.g. the key `reelay up` generated). */
  public StatusSettings withApiKeys(Map<String, String> keys) {
    return copy(port, keys, publishTimeout);
  }

  /** The same settings with other tenant limits (tests). */
  public StatusSettings withLimits(long maxBodyBytes, int watchersPerTenant, int watchers, double submitsPerSecond, int submitBurst) {
    return new StatusSettings(host, port, apiKeys, sseKeepAlive, sseBuffer, requestTimeout, publishTimeout,
        publishRetryAfter, idempotencyRetention, idempotencyMaxKeys, maxHistoryPerRequest, maxListLimit, defaultListLimit,
        new TenantLimits.Settings(maxBodyBytes, watchersPerTenant, watchers, submitsPerSecond, submitBurst), mediaLinks,
        store, producerProperties);
  }

  /** The same settings with other store settings (tests, the local stack: where the state lives). */
  public StatusSettings withStore(StoreSettings newStore) {
    return new StatusSettings(host, port, apiKeys, sseKeepAlive, sseBuffer, requestTimeout, publishTimeout,
        publishRetryAfter, idempotencyRetention, idempotencyMaxKeys, maxHistoryPerRequest, maxListLimit, defaultListLimit,
        limits, mediaLinks, newStore, producerProperties);
  }

  private StatusSettings copy(int newPort, Map<String, String> keys, Duration newPublishTimeout) {
    return new StatusSettings(host, newPort, keys, sseKeepAlive, sseBuffer, requestTimeout, newPublishTimeout,
        publishRetryAfter, idempotencyRetention, idempotencyMaxKeys, maxHistoryPerRequest, maxListLimit, defaultListLimit,
        limits, mediaLinks, store, producerProperties);
  }

  static Map<String, String> properties(Config block) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigValue> e : block.entrySet()) {
      // keys like "group.protocol" are quoted in HOCON; entrySet gives the path with quotes
      String key = e.getKey().replace("\"", "");
      out.put(key, String.valueOf(e.getValue().unwrapped()));
    }
    return out;
  }

  @Override
  public String toString() {
    return "StatusSettings[host=" + host + ", port=" + port + ", apiKeys=" + apiKeys.size() + " key(s)"
        + ", sseKeepAlive=" + sseKeepAlive + ", sseBuffer=" + sseBuffer + ", requestTimeout=" + requestTimeout
        + ", publishTimeout=" + publishTimeout + ", publishRetryAfter=" + publishRetryAfter
        + ", idempotencyRetention=" + idempotencyRetention + ", idempotencyMaxKeys=" + idempotencyMaxKeys
        + ", maxHistoryPerRequest=" + maxHistoryPerRequest
        + ", maxListLimit=" + maxListLimit
        + ", defaultListLimit=" + defaultListLimit + ", limits=" + limits
        + ", mediaLinks=" + mediaLinks + ", store=" + store + ", producerProperties=" + producerProperties + "]";
  }
}

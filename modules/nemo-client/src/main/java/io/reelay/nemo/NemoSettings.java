package io.reelay.nemo;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;

/** Settings of the backend client, read once from the {@code reelay.nemo} config block. */
public record NemoSettings(
    String baseUrl,
    Optional<Token> fixedToken,
    String skillSource,
    String skillVersion,
    String skillPlatform,
    Duration requestTimeout,
    Duration sseHeartbeatTimeout,
    Duration sseTotalTimeout,
    int sseMaxLineBytes,
    int maxConnections,
    int maxOpenRequests,
    FailurePolicy.RetryPolicy retry,
    double callsPerSecond,
    int callsBurst) {

  public NemoSettings {
    if (Integer.bitCount(maxOpenRequests) != 1 || maxOpenRequests < maxConnections) {
      throw new IllegalArgumentException(
          "reelay.nemo.max-open-requests must be a power of two >= max-connections, was "
              + maxOpenRequests);
    }
    baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
  }

  public static NemoSettings from(Config c) {
    String token = c.getString("token").trim();
    return new NemoSettings(
        c.getString("base-url"),
        token.isEmpty() ? Optional.empty() : Optional.of(Token.of(token)),
        c.getString("attribution.source"),
        c.getString("attribution.version"),
        c.getString("attribution.platform"),
        c.getDuration("request-timeout"),
        c.getDuration("sse-heartbeat-timeout"),
        c.getDuration("sse-total-timeout"),
        c.getInt("sse-max-line-bytes"),
        c.getInt("max-connections"),
        c.getInt("max-open-requests"),
        new FailurePolicy.RetryPolicy(
            c.getDuration("retry.initial"),
            c.getDuration("retry.max"),
            c.getInt("retry.max-attempts"),
            c.getDuration("retry.rate-limit-wait"),
            c.getDuration("retry.refusal-budget")),
        c.getDouble("calls-per-second"),
        c.getInt("calls-burst"));
  }

  public NemoSettings withBaseUrl(String url) {
    return new NemoSettings(
        url, fixedToken, skillSource, skillVersion, skillPlatform, requestTimeout,
        sseHeartbeatTimeout, sseTotalTimeout, sseMaxLineBytes, maxConnections, maxOpenRequests, retry,
        callsPerSecond, callsBurst);
  }
}

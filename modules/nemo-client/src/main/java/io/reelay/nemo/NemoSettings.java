package io.reelay.nemo;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;

/**
 * Settings of the backend client, read once from the {@code reelay.nemo} config block. {@code
 * maxConnections} / {@code maxOpenRequests} size the pool of the agent streams, {@code call…} the
 * pool of every other call.
 */
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
    int callMaxConnections,
    int callMaxOpenRequests,
    FailurePolicy.RetryPolicy retry,
    double callsPerSecond,
    int callsBurst) {

  public NemoSettings {
    requirePool("reelay.nemo.", maxConnections, maxOpenRequests);
    requirePool("reelay.nemo.calls.", callMaxConnections, callMaxOpenRequests);
    baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
  }

  private static void requirePool(String prefix, int maxConnections, int maxOpenRequests) {
    if (maxConnections < 1 || Integer.bitCount(maxOpenRequests) != 1 || maxOpenRequests < maxConnections) {
      throw new IllegalArgumentException(prefix + "max-open-requests must be a power of two >= " + prefix
          + "max-connections (at least 1), was " + maxOpenRequests + " and " + maxConnections);
    }
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
        c.getInt("calls.max-connections"),
        c.getInt("calls.max-open-requests"),
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
        sseHeartbeatTimeout, sseTotalTimeout, sseMaxLineBytes, maxConnections, maxOpenRequests, callMaxConnections, callMaxOpenRequests, retry,
        callsPerSecond, callsBurst);
  }
}

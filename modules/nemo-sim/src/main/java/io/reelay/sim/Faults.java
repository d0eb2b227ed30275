package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The fault mix: each rate is a fraction (0..1) of calls, streams, edits or renders (see the
 * {@code nemo-sim.faults} block in reference.conf). Immutable; {@link FaultDice} rolls against it.
 */
public record Faults(
    long seed,
    double rateLimit429,
    double serverError5xx,
    double connectionReset,
    double slowResponse,
    double streamCut,
    double tokenRevoked,
    double sessionLost,
    double silentEdit,
    double renderFailed,
    double streamError,
    double streamHang,
    double tempIssue,
    double askQuestion,
    double crashedTurn,
    double lostAnswer,
    double requestTimeout408) {

  public Faults {
    for (double rate : new double[] {rateLimit429, serverError5xx, connectionReset, slowResponse, streamCut,
        tokenRevoked, sessionLost, silentEdit, renderFailed, streamError, streamHang, tempIssue, askQuestion, crashedTurn,
        lostAnswer, requestTimeout408}) {
      if (rate < 0 || rate > 1) throw new IllegalArgumentException("fault rates are fractions from 0 to 1, got " + rate);
    }
  }

  /** The original ten-rate mix (the stream scenarios added later default to 0). */
  public Faults(long seed, double rateLimit429, double serverError5xx, double connectionReset, double slowResponse,
      double streamCut, double tokenRevoked, double sessionLost, double silentEdit, double renderFailed) {
    this(seed, rateLimit429, serverError5xx, connectionReset, slowResponse, streamCut, tokenRevoked, sessionLost,
        silentEdit, renderFailed, 0, 0, 0, 0, 0, 0, 0);
  }

  public static Faults from(Config c) {
    return new Faults(
        c.getLong("seed"),
        c.getDouble("rate-limit-429"),
        c.getDouble("server-error-5xx"),
        c.getDouble("connection-reset"),
        c.getDouble("slow-response"),
        c.getDouble("stream-cut"),
        c.getDouble("token-revoked"),
        c.getDouble("session-lost"),
        c.getDouble("silent-edit"),
        c.getDouble("render-failed"),
        rate(c, "stream-error"),
        rate(c, "stream-hang"),
        rate(c, "temp-issue"),
        rate(c, "ask-question"),
        rate(c, "crashed-turn"),
        rate(c, "lost-answer"),
        rate(c, "request-timeout-408"));
  }

  /** The stream scenarios (and lost-answer, request-timeout-408) came later: a config block written before them still reads (as 0). */
  private static double rate(Config c, String key) {
    return c.hasPath(key) ? c.getDouble(key) : 0;
  }

  /**
   * The mix an admin posted ({@code POST /_sim/faults}): keys as in the config block (kebab-case, or
   * camelCase); keys left out keep the value of {@code defaults} (the configured mix).
   */
  public static Faults fromJson(JsonNode json, Faults defaults) {
    if (json == null || !json.isObject()) throw new IllegalArgumentException("expected a JSON object of fault rates");
    Config posted = ConfigFactory.empty();
    for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isNumber()) throw new IllegalArgumentException("fault '" + e.getKey() + "' must be a number");
      String key = kebab(e.getKey());
      if (!defaults.toConfig().hasPath(key)) throw new IllegalArgumentException("unknown fault '" + e.getKey() + "'");
      posted = posted.withValue(key, ConfigValueFactory.fromAnyRef(e.getValue().numberValue()));
    }
    return from(posted.withFallback(defaults.toConfig()));
  }

  /** The mix as the config block (and the JSON shape /_sim/stats reports it in). */
  public Config toConfig() {
    return ConfigFactory.parseMap(asMap());
  }

  public Map<String, Object> asMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seed", seed);
    m.put("rate-limit-429", rateLimit429);
    m.put("server-error-5xx", serverError5xx);
    m.put("connection-reset", connectionReset);
    m.put("slow-response", slowResponse);
    m.put("stream-cut", streamCut);
    m.put("token-revoked", tokenRevoked);
    m.put("session-lost", sessionLost);
    m.put("silent-edit", silentEdit);
    m.put("render-failed", renderFailed);
    m.put("stream-error", streamError);
    m.put("stream-hang", streamHang);
    m.put("temp-issue", tempIssue);
    m.put("ask-question", askQuestion);
    m.put("crashed-turn", crashedTurn);
    m.put("lost-answer", lostAnswer);
    m.put("request-timeout-408", requestTimeout408);
    return m;
  }

  private static String kebab(String key) {
    // rateLimit429 -> rate-limit-429, serverError5xx -> server-error-5xx
    return key.replaceAll("([a-z])([A-Z0-9])", "$1-$2").toLowerCase(Locale.ROOT);
  }
}

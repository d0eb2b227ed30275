package io.reelay.sim;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The simulator's settings, read once from the {@code nemo-sim} config block (see reference.conf for
 * the meaning of every key). Durations in {@link Timing} are the real backend's; {@link #scaled}
 * applies {@code time-scale}. {@code renderThreads} is the effective count: a configured 0 is already
 * resolved to the number of cores.
 */
public record SimSettings(
    String host,
    int port,
    double timeScale,
    long seed,
    int creditsPerToken,
    int generationCost,
    int editCost,
    Duration tokenTtl,
    long maxUploadBytes,
    Optional<String> publicBaseUrl,
    RenderPollShape renderPollShape,
    SseWireForm sseWireForm,
    boolean errorsAsHttpStatus,
    RetryAfterForm retryAfterForm,
    int videoWidth,
    int videoHeight,
    int renderThreads,
    RenderMode renderMode,
    Path cacheDir,
    Timing timing,
    Server server,
    Faults faults,
    int textCost,
    Limits limits,
    DuplicateRenderId duplicateRenderId,
    List<HeartbeatForm> heartbeatForms,
    Latency latency) {

  /** How a Retry-After header states its wait (RFC 9110 allows both): {@code seconds} or {@code http-date}. */
  public enum RetryAfterForm { SECONDS, HTTP_DATE }

  /**
   * Which MP4 a render gets: one encoded for its own title ({@code per-title}), or one clip per duration
   * shared by every title ({@code shared}), so that a load test is not limited by pure-Java encoding.
   */
  public enum RenderMode {
    PER_TITLE, SHARED;

    /** As written in the config, and as {@code GET /_sim/stats} reports it. */
    public String configValue() {
      return configName(this);
    }
  }

  /** What a render submit with an id that already exists gets (nemo-api.md §4 E8: both are plausible). */
  public enum DuplicateRenderId { RETURN_EXISTING, ERROR }

  /** The three heartbeat forms the vendor documents (nemo-api.md §5.1, §5.4). */
  public enum HeartbeatForm { COMMENT, EMPTY_DATA, JSON }

  /**
   * Account and session limits: anonymous tokens per caller address in a sliding window (0 = no cap),
   * the idle time after which a session is gone (0 = never), sessions kept per user (0 = no cap; the
   * oldest is evicted).
   */
  public record Limits(int perAddressTokenCap, Duration perAddressWindow, Duration sessionIdleTimeout,
      int maxSessionsPerUser) {
    static Limits from(Config c) {
      return new Limits(c.getInt("per-address-token-cap"), c.getDuration("per-address-window"),
          c.getDuration("session-idle-timeout"), c.getInt("max-sessions-per-user"));
    }
  }

  /** Uniform response latency per endpoint (before time-scale); endpoints not listed use {@code default}. */
  public record Latency(Range defaults, Map<String, Range> perEndpoint) {
    public record Range(Duration min, Duration max) {
      static Range from(Config c) {
        Duration min = c.getDuration("min");
        Duration max = c.getDuration("max");
        if (max.compareTo(min) < 0) throw new IllegalArgumentException("nemo-sim.latency: max < min");
        return new Range(min, max);
      }
    }

    public Latency {
      perEndpoint = Map.copyOf(perEndpoint);
    }

    public Range of(String endpoint) {
      return perEndpoint.getOrDefault(endpoint, defaults);
    }

    static Latency from(Config c) {
      Map<String, Range> per = new HashMap<>();
      for (String key : c.root().keySet()) {
        if (!key.equals("default")) per.put(key, Range.from(c.getConfig("\"" + key + "\"")));
      }
      return new Latency(Range.from(c.getConfig("default")), per);
    }
  }

  /** E9 answer shapes (nemo-api.md §4 E9: the sources disagree, so both exist). */
  public enum RenderPollShape { DATA, TOP_LEVEL }

  /** /run_sse payload forms (nemo-api.md §5). */
  public enum SseWireForm { ADK, TYPED }

  /** The backend's pace before scaling. */
  public record Timing(
      Duration generationMin, Duration generationMax,
      Duration editMin, Duration editMax,
      Duration textMin, Duration textMax,
      Duration renderMin, Duration renderMax,
      Duration heartbeatInterval, Duration slowResponse, Duration retryAfter) {

    static Timing from(Config c) {
      return new Timing(
          c.getDuration("generation-min"), c.getDuration("generation-max"),
          c.getDuration("edit-min"), c.getDuration("edit-max"),
          c.getDuration("text-min"), c.getDuration("text-max"),
          c.getDuration("render-min"), c.getDuration("render-max"),
          c.getDuration("heartbeat-interval"), c.getDuration("slow-response"), c.getDuration("retry-after"));
    }
  }

  /** HTTP server sizing. */
  public record Server(int maxConnections, int backlog, Duration idleTimeout) {
    static Server from(Config c) {
      return new Server(c.getInt("max-connections"), c.getInt("backlog"), c.getDuration("idle-timeout"));
    }
  }

  public SimSettings {
    if (timeScale <= 0) throw new IllegalArgumentException("nemo-sim.time-scale must be > 0");
    if (videoWidth % 2 != 0 || videoHeight % 2 != 0 || videoWidth <= 0 || videoHeight <= 0) {
      throw new IllegalArgumentException("nemo-sim.video-width/height must be positive even numbers (H.264)");
    }
  }

  public static SimSettings from(Config c) {
    String baseUrl = c.getString("public-base-url").strip();
    String cache = c.getString("cache-dir").strip();
    return new SimSettings(
        c.getString("host"),
        c.getInt("port"),
        c.getDouble("time-scale"),
        c.getLong("seed"),
        c.getInt("credits-per-token"),
        c.getInt("generation-cost"),
        c.getInt("edit-cost"),
        c.getDuration("token-ttl"),
        c.getBytes("max-upload-bytes"),
        baseUrl.isEmpty() ? Optional.empty() : Optional.of(stripSlash(baseUrl)),
        enumValue("render-poll-shape", c.getString("render-poll-shape"), RenderPollShape.class),
        enumValue("sse-wire-form", c.getString("sse-wire-form"), SseWireForm.class),
        c.getBoolean("errors-as-http-status"),
        enumValue("retry-after-form", c.getString("retry-after-form"), RetryAfterForm.class),
        c.getInt("video-width"),
        c.getInt("video-height"),
        renderThreads(c.getInt("render-threads")),
        enumValue("render-mode", c.getString("render-mode"), RenderMode.class),
        cache.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"), "reelay-nemo-sim") : Path.of(cache),
        Timing.from(c.getConfig("timing")),
        Server.from(c.getConfig("server")),
        Faults.from(c.getConfig("faults")),
        c.getInt("text-cost"),
        Limits.from(c),
        enumValue("duplicate-render-id", c.getString("duplicate-render-id"), DuplicateRenderId.class),
        c.getStringList("heartbeat-forms").stream().map(f -> enumValue("heartbeat-forms", f, HeartbeatForm.class)).toList(),
        Latency.from(c.getConfig("latency")));
  }

  /** A real backend duration shrunk (or stretched) by {@code time-scale}. */
  public Duration scaled(Duration real) {
    return Duration.ofNanos(Math.max(1_000_000L, (long) (real.toNanos() * timeScale)));
  }

  public SimSettings withPort(int newPort) {
    return new SimSettings(host, newPort, timeScale, seed, creditsPerToken, generationCost, editCost, tokenTtl,
        maxUploadBytes, publicBaseUrl, renderPollShape, sseWireForm, errorsAsHttpStatus, retryAfterForm, videoWidth, videoHeight,
        renderThreads, renderMode, cacheDir, timing, server, faults, textCost, limits, duplicateRenderId, heartbeatForms, latency);
  }

  /** {@code render-threads}: 0 = one encoder per core, a positive number that many; negative is refused. */
  private static int renderThreads(int configured) {
    if (configured < 0) {
      throw new IllegalArgumentException("nemo-sim.render-threads is " + configured
          + ": set it to 0 (one per core) or to a positive number of encoder threads");
    }
    return configured == 0 ? Runtime.getRuntime().availableProcessors() : configured;
  }

  /** The constant of {@code type} a config value names ("top-level" = TOP_LEVEL), or an error listing the allowed values. */
  private static <E extends Enum<E>> E enumValue(String key, String configValue, Class<E> type) {
    String name = configValue.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    for (E e : type.getEnumConstants()) {
      if (e.name().equals(name)) return e;
    }
    List<String> allowed = Arrays.stream(type.getEnumConstants()).map(e -> "\"" + configName(e) + "\"").toList();
    throw new IllegalArgumentException("nemo-sim." + key + " is \"" + configValue + "\": set it to one of "
        + String.join(", ", allowed));
  }

  private static String configName(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static String stripSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}

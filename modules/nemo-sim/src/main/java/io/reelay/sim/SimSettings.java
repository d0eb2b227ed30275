package io.reelay.sim;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * The simulator's settings, read once from the {@code nemo-sim} config block (see reference.conf for
 * the meaning of every key). Durations in {@link Timing} are the real backend's; {@link #scaled}
 * applies {@code time-scale}.
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
    int videoWidth,
    int videoHeight,
    int renderThreads,
    Path cacheDir,
    Timing timing,
    Server server,
    Faults faults) {

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
        RenderPollShape.valueOf(enumName(c.getString("render-poll-shape"))),
        SseWireForm.valueOf(enumName(c.getString("sse-wire-form"))),
        c.getBoolean("errors-as-http-status"),
        c.getInt("video-width"),
        c.getInt("video-height"),
        c.getInt("render-threads"),
        cache.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"), "reelay-nemo-sim") : Path.of(cache),
        Timing.from(c.getConfig("timing")),
        Server.from(c.getConfig("server")),
        Faults.from(c.getConfig("faults")));
  }

  /** A real backend duration shrunk (or stretched) by {@code time-scale}. */
  public Duration scaled(Duration real) {
    return Duration.ofNanos(Math.max(1_000_000L, (long) (real.toNanos() * timeScale)));
  }

  public SimSettings withPort(int newPort) {
    return new SimSettings(host, newPort, timeScale, seed, creditsPerToken, generationCost, editCost, tokenTtl,
        maxUploadBytes, publicBaseUrl, renderPollShape, sseWireForm, errorsAsHttpStatus, videoWidth, videoHeight,
        renderThreads, cacheDir, timing, server, faults);
  }

  private static String enumName(String configValue) {
    return configValue.strip().toUpperCase(Locale.ROOT).replace('-', '_');
  }

  private static String stripSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}

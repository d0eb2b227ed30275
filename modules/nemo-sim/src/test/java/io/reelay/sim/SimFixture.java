package io.reelay.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/** Simulators for the contract tests: random port, a fast time scale, one fresh MP4 cache per JVM. */
final class SimFixture implements AutoCloseable {

  private static final Path CACHE = tempDir();

  /**
   * The clock tokens, sessions and renders go by: the system's, moved on by {@link #pass}, or
   * standing still between {@link #hold} and {@link #release}.
   */
  static final class MovableClock extends Clock {
    private final AtomicLong offsetMillis = new AtomicLong();
    private volatile Instant held;

    void pass(Duration d) {
      offsetMillis.addAndGet(d.toMillis());
    }

    void hold() {
      held = instant();
    }

    void release() {
      held = null;
    }

    @Override
    public Instant instant() {
      Instant h = held;
      return h != null ? h : Instant.now().plusMillis(offsetMillis.get());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }

  final ActorTestKit kit;
  final NemoSim sim;
  final SimHttp http;
  final MovableClock clock;
  /** Every delay the simulator chose for an answer, in order (latency and slow responses). */
  final List<Duration> delays;

  private SimFixture(ActorTestKit kit, NemoSim sim, MovableClock clock, List<Duration> delays) {
    this.kit = kit;
    this.sim = sim;
    this.http = new SimHttp(sim.baseUrl());
    this.clock = clock;
    this.delays = delays;
  }

  /** A simulator at time-scale 0.002 (a generation in under a second) with {@code overrides} (keys under nemo-sim). */
  static SimFixture start(String name, Map<String, Object> overrides) throws Exception {
    Config config = config(overrides);
    ActorTestKit kit = ActorTestKit.create(name, config);
    MovableClock clock = new MovableClock();
    List<Duration> delays = new CopyOnWriteArrayList<>();
    Delays scheduler = Delays.scheduler(kit.system());
    Delays recording = (delay, response) -> {
      delays.add(delay);
      return scheduler.later(delay, response);
    };
    NemoSim sim = NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim")), clock, recording)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    return new SimFixture(kit, sim, clock, delays);
  }

  static Config config(Map<String, Object> overrides) {
    Map<String, Object> base = new HashMap<>(Map.of("port", 0, "time-scale", 0.002, "cache-dir", CACHE.toString(),
        "faults.silent-edit", 0));
    base.putAll(overrides);
    Map<String, Object> prefixed = new HashMap<>();
    base.forEach((k, v) -> prefixed.put("nemo-sim." + k, v));
    return ConfigFactory.parseMap(prefixed).withFallback(ConfigFactory.load()).resolve();
  }

  static String client() {
    return "client-" + UUID.randomUUID();
  }

  String token() throws Exception {
    return http.token(client());
  }

  SimHttp.Reply faults(Map<String, Object> mix) throws Exception {
    return http.post("/_sim/faults", null, mix);
  }

  com.fasterxml.jackson.databind.JsonNode stats() throws Exception {
    return http.get("/_sim/stats", null).json();
  }

  com.fasterxml.jackson.databind.JsonNode state(String token, String sid) throws Exception {
    return http.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data().path("state");
  }

  @Override
  public void close() throws Exception {
    sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    kit.shutdownTestKit();
  }

  private static Path tempDir() {
    try {
      return Files.createTempDirectory("nemo-sim-test-cache");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}

package io.reelay.loadtest.peer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The peer's shells against a real simulator in this JVM: the flows complete, and the simulator saw them. */
class PeerTest {

  private static final double TIME_SCALE = 0.005;
  private static final Duration TIMEOUT = Duration.ofMinutes(2);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static ActorSystem<Void> system;
  private static NemoSim sim;
  private static Path root;

  @BeforeAll
  static void startSim() throws Exception {
    Path cache = Files.createTempDirectory("peer-test-cache");
    // a small frame keeps the pure-Java MP4 encode (not scaled by time-scale) short
    Config config = ConfigFactory.parseMap(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", TIME_SCALE,
            "nemo-sim.cache-dir", cache.toString(), "nemo-sim.video-width", 160, "nemo-sim.video-height", 96))
        .withFallback(ConfigFactory.load()).resolve();
    system = ActorSystem.create(Behaviors.empty(), "peer-test", config);
    sim = NemoSim.start(system, SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
    root = Peer.findRepoRoot(Path.of(""));
  }

  @AfterAll
  static void stopSim() throws Exception {
    if (sim != null) sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @BeforeEach
  void resetSim() throws Exception {
    HTTP.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/reset")).POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.discarding());
  }

  @Test
  void creditsChecksComplete() throws Exception {
    Peer.Result r = Peer.run(root, sim.baseUrl(), "credits", 6, 3, TIME_SCALE, TIMEOUT);

    assertThat(r.failures()).isEmpty();
    assertThat(r.completed()).isEqualTo(6);
    assertThat(r.latencyMs().getTotalCount()).isEqualTo(6);
    assertThat(r.polls()).isZero();
    assertThat(r.perSecond()).isPositive();
    JsonNode stats = stats();
    assertThat(stats.path("tokensIssued").asLong()).isGreaterThanOrEqualTo(6);
    assertThat(stats.path("calls").path("credits").asLong()).isEqualTo(6);
    assertThat(stats.path("missingAttribution").asLong()).isZero();
  }

  @Test
  void videosAreGeneratedExportedAndPolledToTheEnd() throws Exception {
    Peer.Result r = Peer.run(root, sim.baseUrl(), "video", 2, 2, TIME_SCALE, TIMEOUT);

    assertThat(r.failures()).isEmpty();
    assertThat(r.completed()).isEqualTo(2);
    assertThat(r.runs()).allSatisfy(run -> {
      assertThat(run.ok()).isTrue();
      assertThat(run.polls()).isGreaterThanOrEqualTo(1);
      assertThat(run.renderSeenDoneAtMs()).isPositive();
      assertThat(run.phases()).extracting(Peer.Phase::name)
          .containsSubsequence("token", "session", "sse", "state", "export", "poll", "render_done");
    });
    assertThat(r.renderSeenDoneAtMs()).hasSize(2);
    assertThat(r.pollsPerRender()).isGreaterThanOrEqualTo(1);
    JsonNode stats = stats();
    assertThat(stats.path("renderSubmits").asLong()).isEqualTo(2);
    assertThat(stats.path("rendersCompleted").asLong()).isEqualTo(2);
    assertThat(stats.path("generations").asLong()).isEqualTo(2);
    assertThat(stats.path("tokensIssued").asLong()).isGreaterThanOrEqualTo(2);
    assertThat(stats.path("calls").path("render-poll").asLong()).isEqualTo(r.polls());
    // the skill's attribution headers went out on every call (export would have been a 402 without them)
    assertThat(stats.path("missingAttribution").asLong()).isZero();
  }

  @Test
  void aShellPastItsTimeoutIsKilledAndCounted() throws Exception {
    // a backend that accepts connections and never answers
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Peer.Result r = Peer.run(root, "http://127.0.0.1:" + silent.getLocalPort(), "credits", 2, 2, TIME_SCALE,
          Duration.ofMillis(1500));

      assertThat(r.completed()).isZero();
      assertThat(r.failures()).isEqualTo(Map.of("timeout", 2));
    }
    assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)).isEmpty();
  }

  private static JsonNode stats() throws Exception {
    HttpResponse<String> res = HTTP.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
    return JSON.readTree(res.body());
  }
}

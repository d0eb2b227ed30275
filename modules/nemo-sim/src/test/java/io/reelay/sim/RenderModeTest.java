package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The render profiles: {@code per-title} encodes one MP4 per title, {@code shared} (load tests) one per
 * duration served for every title; and {@code render-threads} 0 = one encoder per core. Each simulator
 * gets its own MP4 cache, so {@code encodes} in /_sim/stats counts exactly this test's encodes.
 */
class RenderModeTest {

  @Test
  void sharedModeServesOneEncodedClipForEveryTitle(@TempDir Path dir) throws Exception {
    try (SimFixture f = start("render-shared", "shared", dir.resolve("cache"))) {
      Path alpha = renderAndDownload(f, "Alpha Title", dir.resolve("alpha.mp4"));
      Path beta = renderAndDownload(f, "Beta Title", dir.resolve("beta.mp4"));

      assertThat(Mp4Probe.probe(alpha).frames()).isEqualTo(24);
      assertThat(Mp4Probe.probe(beta).frames()).isEqualTo(24);
      assertThat(Files.mismatch(alpha, beta)).as("both titles get the same bytes").isEqualTo(-1);
      JsonNode stats = f.stats();
      assertThat(stats.path("encodes").asLong()).isEqualTo(1);
      assertThat(stats.path("renderMode").asText()).isEqualTo("shared");
      assertThat(stats.path("rendersCompleted").asLong()).as("existing counters are still reported").isEqualTo(2);
    }
  }

  @Test
  void perTitleModeEncodesEachTitle(@TempDir Path dir) throws Exception {
    try (SimFixture f = start("render-per-title", "per-title", dir.resolve("cache"))) {
      Path alpha = renderAndDownload(f, "Alpha Title", dir.resolve("alpha.mp4"));
      Path beta = renderAndDownload(f, "Beta Title", dir.resolve("beta.mp4"));

      assertThat(Mp4Probe.probe(alpha).frames()).isEqualTo(24);
      assertThat(Mp4Probe.probe(beta).frames()).isEqualTo(24);
      assertThat(Files.mismatch(alpha, beta)).as("each title is drawn into its own clip").isNotEqualTo(-1);
      JsonNode stats = f.stats();
      assertThat(stats.path("encodes").asLong()).isEqualTo(2);
      assertThat(stats.path("renderMode").asText()).isEqualTo("per-title");
    }
  }

  @Test
  void perTitleIsTheDefault() {
    assertThat(settings(Map.of()).renderMode()).isEqualTo(SimSettings.RenderMode.PER_TITLE);
  }

  @Test
  void anUnknownRenderModeIsRefusedAtStartupNamingTheKeyAndTheAllowedValues() {
    assertThatThrownBy(() -> settings(Map.of("render-mode", "per-user")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nemo-sim.render-mode")
        .hasMessageContaining("\"per-title\"")
        .hasMessageContaining("\"shared\"");
  }

  @Test
  void renderThreadsDefaultsToOnePerCoreAndIsReportedInStats(@TempDir Path dir) throws Exception {
    int cores = Runtime.getRuntime().availableProcessors();
    assertThat(settings(Map.of()).renderThreads()).isEqualTo(cores);
    assertThat(settings(Map.of("render-threads", 0)).renderThreads()).isEqualTo(cores);
    assertThat(settings(Map.of("render-threads", 3)).renderThreads()).isEqualTo(3);
    try (SimFixture f = start("render-threads", "per-title", dir)) {
      assertThat(f.stats().path("renderThreads").asInt()).isEqualTo(cores);
    }
  }

  @Test
  void negativeRenderThreadsAreRefused() {
    assertThatThrownBy(() -> settings(Map.of("render-threads", -1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nemo-sim.render-threads");
  }

  private static SimFixture start(String name, String mode, Path cache) throws Exception {
    // a small frame keeps the encodes cheap; the default thread count (0 = per core) is what runs
    return SimFixture.start(name, Map.of("render-mode", mode, "cache-dir", cache.toString(),
        "video-width", 160, "video-height", 90));
  }

  private static SimSettings settings(Map<String, Object> overrides) {
    return SimSettings.from(SimFixture.config(overrides).getConfig("nemo-sim"));
  }

  /** Submits a 1 s draft showing {@code title}, waits for the job to complete, downloads its outputUrl. */
  private static Path renderAndDownload(SimFixture f, String title, Path target) throws Exception {
    String token = f.token();
    String sid = f.http.session(token);
    String id = "render_" + UUID.randomUUID();
    Map<String, Object> draft = Map.of("t", List.of(
        Map.of("tt", Draft.VIDEO, "sg", List.of(Map.of("start", 0, "d", 1000, "m", Map.of("title", title))))));
    SimHttp.Reply submitted = f.http.post("/api/render/proxy/lambda", token, Map.of("id", id, "sessionId", sid, "draft", draft));
    assertThat(submitted.json().path("success").asBoolean()).as(submitted.raw().body()).isTrue();

    JsonNode job = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> f.http.get("/api/render/proxy/lambda/" + id, token).data(),
            j -> !j.path("status").asText().matches("pending|processing"));
    assertThat(job.path("status").asText()).as(job.toString()).isEqualTo("completed");

    HttpResponse<Path> file = f.http.download(job.path("outputUrl").asText(), null, target, null);
    assertThat(file.statusCode()).isEqualTo(200);
    return file.body();
  }
}

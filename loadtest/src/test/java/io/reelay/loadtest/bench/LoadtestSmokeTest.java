package io.reelay.loadtest.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The one load scenario {@code ./mvnw verify} runs: {@code reelay loadtest throughput --quick}, small,
 * with its processes (broker, simulator, worker) and the peer, writes a well-formed report. Its
 * figures are not checked against the goals (this machine is shared with the build); their shape is.
 */
class LoadtestSmokeTest {

  @Test
  void aQuickThroughputRunWritesAWellFormedReport(@TempDir Path dir) throws Exception {
    int exit = new CommandLine(new LoadtestCommand()).execute("throughput", "--quick", "--count", "400",
        "--out", dir.resolve("reports").toString(), "--work", dir.resolve("work").toString());
    assertThat(exit).isZero();

    JsonNode report = Json.read(Files.readString(dir.resolve("reports/throughput.json")), JsonNode.class);
    assertThat(report.path("scenario").asText()).isEqualTo("throughput");
    assertThat(report.path("quick").asBoolean()).isTrue();
    assertThat(report.path("machine").path("cores").asInt()).isPositive();
    assertThat(report.path("machine").path("memoryBytes").asLong()).isPositive();
    assertThat(report.path("machine").path("jvm").asText()).isNotBlank();
    assertThat(report.path("goals")).isNotEmpty().allSatisfy(g -> {
      assertThat(g.path("name").asText()).isNotBlank();
      assertThat(g.path("goal").asText()).matches("[≥≤] .+");
      assertThat(g.path("measured").isNumber()).as(g.toString()).isTrue();
      assertThat(g.path("unit").asText()).isNotBlank();
      assertThat(g.path("met").isBoolean()).isTrue();
      if (!g.path("met").asBoolean()) {
        assertThat(g.path("why").asText()).as("a missed goal says why").isNotBlank().isNotEqualTo("not explained");
        assertThat(g.path("missedBy").isNumber()).isTrue();
      }
    });
    // every request ended once, and the peer ran beside it
    assertThat(report.path("figures").path("requests ended").asInt()).isEqualTo(400);
    assertThat(report.path("figures").path("terminal events read twice").asInt()).isZero();
    assertThat(report.path("goals").findValuesAsText("name")).anyMatch(n -> n.contains("peer"));
    assertThat(report.path("goals").get(report.path("goals").size() - 1).path("peer").isNumber()).isTrue();

    String md = Files.readString(dir.resolve("reports/throughput.md"));
    assertThat(md).contains("| goal | target | measured | peer |").contains("Reproduce: `bin/reelay loadtest throughput --quick");
    for (JsonNode png : report.path("plots")) {
      byte[] head = Files.readAllBytes(dir.resolve("reports").resolve(png.asText()));
      assertThat(Arrays.copyOf(head, 4)).as(png.asText()).containsExactly((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
    }
    assertThat(report.path("plots")).isNotEmpty();
  }
}
